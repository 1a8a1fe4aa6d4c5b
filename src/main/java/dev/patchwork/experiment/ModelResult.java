package dev.patchwork.experiment;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Map;

/**
 * What an experiment measured for one model, cached in {@code DIR/<name>/result.json} so that a finished model is not
 * trained or evaluated again.
 *
 * @param bytesPerStep       planned bytes per training step (the budget's unit)
 * @param trainFlops         steps × bytes per step × training FLOPs per byte
 * @param plannedPatchSize   the patch size the steps were planned with (null for unpatched models)
 * @param meanPatchSize      measured on the held-out text (null for unpatched models)
 * @param noisedBitsPerByte  noise name → bits per byte over the noised held-out bytes
 * @param patchLengthCounts  patches of each length on the held-out text (index = length; null for unpatched models)
 */
public record ModelResult(
        @JsonProperty("name") String name,
        @JsonProperty("kind") String kind,
        @JsonProperty("description") String description,
        @JsonProperty("parameters") long parameters,
        @JsonProperty("steps") long steps,
        @JsonProperty("bytes_per_step") double bytesPerStep,
        @JsonProperty("train_flops_per_byte") double trainFlopsPerByte,
        @JsonProperty("train_flops") double trainFlops,
        @JsonProperty("held_out_bytes") long heldOutBytes,
        @JsonProperty("bits_per_byte") double bitsPerByte,
        @JsonProperty("planned_patch_size") Double plannedPatchSize,
        @JsonProperty("mean_patch_size") Double meanPatchSize,
        @JsonProperty("inference_flops_per_byte") double inferenceFlopsPerByte,
        @JsonProperty("noised_bits_per_byte") Map<String, Double> noisedBitsPerByte,
        @JsonProperty("patch_length_counts") long[] patchLengthCounts,
        @JsonProperty("train_seconds") double trainSeconds) {}
