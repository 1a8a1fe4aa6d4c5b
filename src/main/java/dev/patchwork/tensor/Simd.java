package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species every kernel uses, chosen once at start-up, and the switch that forces the scalar twins.
 *
 * <p>System properties (the CLI sets them from {@code --scalar} / {@code --threads} before any kernel runs):
 * <ul>
 *   <li>{@code patchwork.scalar=true} (or env {@code PATCHWORK_SCALAR=1}): every kernel runs its plain scalar twin;</li>
 *   <li>{@code patchwork.vectorBits=128|256|512}: use a narrower species than the machine's preferred one.</li>
 * </ul>
 * Users of other Java ML libraries have been caught running silently on a scalar fallback; we print the species at
 * the start of every long command instead ({@link #describe()}).
 */
public final class Simd {
    /** The float species of the vector kernels. */
    public static final VectorSpecies<Float> F = chooseSpecies();
    /** Lanes of {@link #F}. */
    public static final int LANES = F.length();
    /** True when every kernel must use its scalar twin. */
    public static final boolean SCALAR = scalarForced();

    private Simd() {}

    private static boolean scalarForced() {
        String p = System.getProperty("patchwork.scalar");
        if (p != null) return Boolean.parseBoolean(p);
        String e = System.getenv("PATCHWORK_SCALAR");
        return e != null && (e.equals("1") || e.equalsIgnoreCase("true"));
    }

    private static VectorSpecies<Float> chooseSpecies() {
        String bits = System.getProperty("patchwork.vectorBits");
        if (bits == null || bits.isBlank()) return FloatVector.SPECIES_PREFERRED;
        return switch (bits.trim()) {
            case "64" -> FloatVector.SPECIES_64;
            case "128" -> FloatVector.SPECIES_128;
            case "256" -> FloatVector.SPECIES_256;
            case "512" -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException(
                    "patchwork.vectorBits must be one of 64, 128, 256, 512; got '" + bits + "'");
        };
    }

    /** One line for logs: species, lanes, scalar switch and thread count. */
    public static String describe() {
        String mode = SCALAR ? "scalar twins (forced)" : "Vector API " + F.vectorBitSize() + "-bit (" + LANES + " floats)";
        return "kernels: " + mode + ", preferred shape " + VectorShape.preferredShape().vectorBitSize()
                + "-bit, threads: " + Parallel.threads();
    }
}
