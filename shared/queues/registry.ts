import type { JobsOptions } from "bullmq";
import type { QueueName } from "../config/env.ts";
import type { JobName } from "./job-schemas.ts";

export interface JobDefinition {
  queue: QueueName;
  /** BullMQ options; the BullMQ job id is always chosen by Quarry, so re-adding is a no-op. */
  options: Omit<JobsOptions, "jobId">;
}

/** The backoff every retried job uses; see `backoffDelay` in workers/backoff.ts. */
export const BACKOFF_TYPE = "quarry";

const retrying = (attempts: number): Omit<JobsOptions, "jobId"> => ({
  attempts,
  backoff: { type: BACKOFF_TYPE, delay: 2_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
});

/** The one place that says which queue serves a job and how it is retried. */
export function jobDefinitions(defaultAttempts: number): Record<JobName, JobDefinition> {
  return {
    ingest_document: { queue: "ingest", options: retrying(defaultAttempts) },
    delete_document: { queue: "ingest", options: retrying(defaultAttempts) },
    delete_collection: { queue: "ingest", options: retrying(defaultAttempts) },
    reembed_collection: { queue: "ingest", options: retrying(defaultAttempts) },
    // A batch that still fails after its retries fails its parent (and the document) with its error.
    embed_chunks: { queue: "embed", options: { ...retrying(defaultAttempts + 3), failParentOnFailure: true } },
    // By age only: BullMQ's `count` trims the whole queue's completed/failed sets, not one job type's.
    reconcile_jobs: { queue: "ingest", options: { attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } } },
    optimize_vectors: { queue: "ingest", options: { attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } } },
  };
}
