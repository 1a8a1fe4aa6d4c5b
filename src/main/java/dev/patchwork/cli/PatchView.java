package dev.patchwork.cli;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.patch.Patches;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * How the inspector shows patches as text: each patch's bytes decoded as UTF-8 with everything invisible or ambiguous
 * escaped (a patch boundary inside a multi-byte character shows its bytes as {@code \xNN}), special ids as
 * {@code <bos>}, {@code <eos>}, ..., and the virtual next byte as {@code <next>}.
 */
final class PatchView {
    /** Background colours that alternate between patches on a terminal (yellow, cyan, green, magenta; black text). */
    private static final String[] COLOURS = {"\u001b[30;43m", "\u001b[30;46m", "\u001b[30;42m", "\u001b[30;45m"};
    private static final String RESET = "\u001b[0m";

    private PatchView() {}

    /** The text of each patch, escaped; {@code escapeBar} also escapes {@code |} (used as separator in plain output). */
    static List<String> patchTexts(int[] ids, Patches patches, boolean escapeBar) {
        List<String> out = new ArrayList<>(patches.count());
        int pos = 0;
        for (int p = 0; p < patches.count(); p++) {
            StringBuilder sb = new StringBuilder();
            ByteArrayOutputStream run = new ByteArrayOutputStream();
            for (int k = 0; k < patches.length(p); k++, pos++) {
                int id = pos < ids.length ? ids[pos] : -2;
                if (id >= ByteTokens.OFFSET) {
                    run.write(id - ByteTokens.OFFSET);
                    continue;
                }
                appendBytes(sb, run.toByteArray(), escapeBar);
                run.reset();
                sb.append(switch (id) {
                    case ByteTokens.BOE -> "<boe>";
                    case ByteTokens.BOS -> "<bos>";
                    case ByteTokens.EOS -> "<eos>";
                    case ByteTokens.BPE_DELIM -> "<bpe>";
                    case -2 -> "<next>"; // the virtual next byte (include_next_token)
                    default -> "<id " + id + ">";
                });
            }
            appendBytes(sb, run.toByteArray(), escapeBar);
            out.add(sb.toString());
        }
        return out;
    }

    /** The whole text with boundaries: {@code |} between patches, or alternating background colours. */
    static String render(int[] ids, Patches patches, boolean colour) {
        List<String> texts = patchTexts(ids, patches, !colour);
        StringBuilder sb = new StringBuilder();
        for (int p = 0; p < texts.size(); p++) {
            if (colour) sb.append(COLOURS[p % COLOURS.length]).append(texts.get(p)).append(RESET);
            else sb.append(p == 0 ? "" : "|").append(texts.get(p));
        }
        return sb.toString();
    }

    /** Strict UTF-8 decoding; bytes that do not form a character in this run are shown as {@code \xNN}. */
    private static void appendBytes(StringBuilder sb, byte[] bytes, boolean escapeBar) {
        if (bytes.length == 0) return;
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer chars = CharBuffer.allocate(bytes.length + 1);
        while (in.hasRemaining()) {
            CoderResult r = dec.decode(in, chars, true);
            flushChars(sb, chars, escapeBar);
            if (r.isError()) {
                for (int i = 0; i < r.length(); i++) sb.append(String.format("\\x%02x", in.get() & 0xFF));
            } else if (r.isUnderflow() && in.hasRemaining()) { // an incomplete character at the end of the run
                while (in.hasRemaining()) sb.append(String.format("\\x%02x", in.get() & 0xFF));
            }
        }
        flushChars(sb, chars, escapeBar);
    }

    private static void flushChars(StringBuilder sb, CharBuffer chars, boolean escapeBar) {
        chars.flip();
        while (chars.hasRemaining()) {
            char c = chars.get();
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                case '\\' -> sb.append("\\\\");
                case '|' -> sb.append(escapeBar ? "\\|" : "|");
                default -> {
                    if (Character.isISOControl(c)) sb.append(c < 0x80 ? String.format("\\x%02x", (int) c) : String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        chars.clear();
    }

    /**
     * A patch-size histogram: one row per size up to 16, then power-of-two ranges (17–32, 33–64, ...), bars of
     * {@code #} scaled to 40 characters.
     */
    static String histogram(Patches patches) {
        int maxLen = 0;
        for (int p = 0; p < patches.count(); p++) maxLen = Math.max(maxLen, patches.length(p));
        List<int[]> buckets = new ArrayList<>(); // {low, high}
        for (int s = 1; s <= Math.min(16, maxLen); s++) buckets.add(new int[]{s, s});
        for (int lo = 17; lo <= maxLen; lo = 2 * lo - 1) buckets.add(new int[]{lo, 2 * lo - 2});
        long[] counts = new long[buckets.size()];
        for (int p = 0; p < patches.count(); p++) {
            int len = patches.length(p);
            for (int b = 0; b < buckets.size(); b++)
                if (len >= buckets.get(b)[0] && len <= buckets.get(b)[1]) counts[b]++;
        }
        long most = 1;
        for (long c : counts) most = Math.max(most, c);
        StringBuilder sb = new StringBuilder();
        for (int b = 0; b < buckets.size(); b++) {
            int[] r = buckets.get(b);
            String label = r[0] == r[1] ? Integer.toString(r[0]) : r[0] + "-" + r[1];
            int bar = (int) Math.round(40.0 * counts[b] / most);
            if (counts[b] > 0 && bar == 0) bar = 1;
            sb.append(String.format("%7s  %s %d%n", label, "#".repeat(bar), counts[b]));
        }
        return sb.toString();
    }
}
