package dev.patchwork.io;

import java.util.List;

/** Lists of names in error messages, kept to one readable line. */
final class TensorNames {
    private static final int MAX_NAMES_IN_MESSAGE = 8;

    private TensorNames() {}

    /** {@code 2 tensors (a, b)}, listing at most a few names. */
    static String list(List<String> names) {
        StringBuilder sb = new StringBuilder().append(names.size()).append(names.size() == 1 ? " tensor (" : " tensors (");
        return appendNames(sb, names).append(')').toString();
    }

    /** {@code a, b, ... 3 more}: at most a few of {@code names}. */
    static StringBuilder appendNames(StringBuilder sb, List<String> names) {
        for (int i = 0; i < Math.min(names.size(), MAX_NAMES_IN_MESSAGE); i++) sb.append(i == 0 ? "" : ", ").append(names.get(i));
        if (names.size() > MAX_NAMES_IN_MESSAGE) sb.append(", ... ").append(names.size() - MAX_NAMES_IN_MESSAGE).append(" more");
        return sb;
    }
}
