import type { JobsOptions } from "bullmq";
import type { QueueName } from "../config/env.ts";
import type { JobName } from "./job-schemas.ts";

export interface JobDefinition {
  queue: QueueName;
  /** BullMQ options; the BullMQ job id is always the Postgres job id, so re-adding is a no-op. */
  options: Omit<JobsOptions, "jobId">;
}

const retrying = (attempts: number): Omit<JobsOptions, "jobId"> => ({
  attempts,
  // Exponential backoff with jitter: 2 s, 4 s, 8 s … each ±50 %.
  backoff: { type: "exponential", delay: 2_000, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
});

/** The one place that says which queue serves a job and how it is retried. */
export function jobDefinitions(defaultAttempts: number): Record<JobName, JobDefinition> {
  return {
    ingest_document: { queue: "ingest", options: retrying(defaultAttempts) },
    delete_document: { queue: "ingest", options: retrying(defaultAttempts) },
    delete_collection: { queue: "ingest", options: retrying(defaultAttempts) },
    reconcile_jobs: { queue: "ingest", options: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
  };
}
