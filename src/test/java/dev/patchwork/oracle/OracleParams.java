package dev.patchwork.oracle;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Double-precision copies of the tensors of a {@link ParameterBuffer}, by view name. The oracle reads its weights
 * from here (every float converts to double exactly, so oracle and float layer start from identical values), and
 * finite differences perturb these arrays in place.
 */
public final class OracleParams {
    private final Map<String, double[]> values;

    private OracleParams(Map<String, double[]> values) {
        this.values = values;
    }

    public static OracleParams of(ParameterBuffer p) {
        Map<String, double[]> m = new LinkedHashMap<>();
        for (ParameterLayout.View v : p.layout().views()) {
            float[] f = p.toArray(v);
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            m.put(v.name(), d);
        }
        return new OracleParams(m);
    }

    /** The live array of {@code name} (changes to it are seen by the next oracle forward). */
    public double[] get(String name) {
        double[] d = values.get(name);
        if (d == null) throw new IllegalArgumentException("oracle has no parameter '" + name + "'; known: " + values.keySet());
        return d;
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(values.keySet());
    }
}
