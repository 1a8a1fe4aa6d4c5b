package dev.patchwork.data;

import java.util.List;
import java.util.Locale;

/**
 * How a {@link CorpusSource} selects documents.
 *
 * @param includeSuffixes if not empty, only raw documents (plain files and archive entries) whose name ends with one of
 *                        these suffixes are read, e.g. {@code [".java"]} for the JDK's {@code lib/src.zip}. Containers
 *                        ({@code .zip}, {@code .gz}, {@code .jsonl}) are always opened: the filter applies to what is
 *                        inside them ({@code Foo.java.gz} is read as {@code Foo.java}). Matching ignores case.
 */
public record CorpusOptions(List<String> includeSuffixes) {
    /** Every document. */
    public static final CorpusOptions ALL = new CorpusOptions(List.of());

    public CorpusOptions {
        includeSuffixes = List.copyOf(includeSuffixes);
        for (String s : includeSuffixes)
            if (s.isBlank()) throw new DataException("an include suffix is blank: give suffixes such as .java or .txt");
    }

    /** Only documents whose name ends with one of {@code suffixes}. */
    public static CorpusOptions including(String... suffixes) {
        return new CorpusOptions(List.of(suffixes));
    }

    /** Whether a raw document called {@code name} is read. */
    public boolean accepts(String name) {
        if (includeSuffixes.isEmpty()) return true;
        String lower = name.toLowerCase(Locale.ROOT);
        for (String s : includeSuffixes) if (lower.endsWith(s.toLowerCase(Locale.ROOT))) return true;
        return false;
    }

    /** Part of the corpus description, so a cache built with another filter is never reused. */
    String describe() {
        return includeSuffixes.isEmpty() ? "" : " (only " + String.join(", ", includeSuffixes) + ")";
    }
}
