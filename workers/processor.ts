import type { Job } from "bullmq";
import type { Deps } from "../shared/deps.ts";
import type { Logger } from "../shared/logging/logger.ts";
import type { JobData, JobName, JobPayload } from "../shared/jobs/index.ts";

export interface JobContext<N extends JobName = JobName> {
  deps: Deps;
  logger: Logger;
  job: Job;
  /**
   * Throws when the job was cancelled: aborted in this process, or asked to stop in its record
   * (which another process may have written). Call it at every batch or page boundary.
   */
  checkpoint(): Promise<void>;
  /** Reports progress 0–100 to BullMQ and the durable job record. */
  progress(percent: number): Promise<void>;
  /**
   * Queues `children` as this job's children, stores `next` as the job's data, and parks the job
   * until every child has finished; the job then runs again with `next`. Returns only when no
   * child is left to wait for.
   */
  fanOut(children: Array<JobPayload<"embed_chunks">>, next: JobData<N>): Promise<void>;
  /** Parks the job until its children have finished; returns at once when none is pending. */
  waitForChildren(): Promise<void>;
  /** Puts the whole queue on hold for `ms` and re-queues this job (provider budget spent). */
  rateLimited(ms: number): Promise<never>;
  /** Aborted when the job is cancelled (from any process) or the worker is closing for good. */
  signal: AbortSignal;
}

/** A processor is thin: it calls use cases and returns the job's `result`. */
export type Processor<N extends JobName> = (payload: JobData<N>, ctx: JobContext<N>) => Promise<Record<string, unknown>>;
