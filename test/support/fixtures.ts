import { type Checkpoint, type CheckpointMetadata, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";

/** A checkpoint with the given channel values, each at version `version`. */
export function checkpointWith(values: Record<string, unknown>, version = 1): Checkpoint {
  return {
    ...emptyCheckpoint(),
    id: uuid6(-1),
    channel_values: values,
    channel_versions: Object.fromEntries(Object.keys(values).map((k) => [k, version])),
  };
}

export function versionsOf(checkpoint: Checkpoint) {
  return { ...checkpoint.channel_versions };
}

export const loopMetadata = { source: "loop" as const, step: 1, parents: {} };

export function threadId(prefix = "thread"): string {
  return `${prefix}-${uuid6(-1)}`;
}

/** Loop metadata plus arbitrary extra keys (metadata is open-ended; the type lists only LangGraph's own keys). */
export function metadataWith(extra: Record<string, unknown>): CheckpointMetadata {
  return { ...loopMetadata, ...extra } as CheckpointMetadata;
}
