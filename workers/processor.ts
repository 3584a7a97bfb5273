import type { Job } from "bullmq";
import type { Deps } from "../shared/deps.ts";
import type { Logger } from "../shared/logging/logger.ts";
import type { JobName, JobPayload } from "../shared/queues/job-schemas.ts";

export interface JobContext {
  deps: Deps;
  logger: Logger;
  job: Job;
  /** Reports progress 0–100 to BullMQ and the durable job record. */
  progress(percent: number): Promise<void>;
  signal?: AbortSignal;
}

/** A processor is thin: it calls a use case and returns the job's `result`. */
export type Processor<N extends JobName> = (payload: JobPayload<N>, ctx: JobContext) => Promise<Record<string, unknown>>;
