package dev.patchwork.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One entry of an experiment's {@code models} list, as written (kind-specific fields are read by the kind's
 * {@link ExperimentModel}).
 *
 * @param name  the run's directory name under the experiment's output
 * @param kind  a key of {@link ExperimentKinds}
 * @param model the model config, inline or read from the file the entry names
 * @param train the experiment's training settings with this entry's {@code train} fields over them (no steps yet)
 * @param entry the whole entry, for kind-specific fields
 * @param what  where the entry is, for messages
 */
public record ModelSpec(String name, String kind, JsonNode model, ObjectNode train, JsonNode entry, String what) {}
