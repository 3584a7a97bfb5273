import { RateLimitError, UnrecoverableError, WaitingChildrenError, type Job, type Worker } from "bullmq";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors/app-error.ts";
import { isInternalJob, isJobName, jobSchemas, type JobData, type JobName } from "../shared/queues/job-schemas.ts";
import { recordFinalFailure } from "../shared/use-cases/job-outcomes.ts";
import { failureFromReason } from "../shared/use-cases/reconcile-jobs.ts";
import type { JobContext, Processor } from "./processor.ts";
import { processors } from "./processors/index.ts";

/** How a thrown error is recorded: its code, and whether retrying could help. */
export function classify(err: unknown): { code: string; message: string; retryable: boolean } {
  if (err instanceof AppError) return { code: err.code, message: err.message, retryable: err.retryable };
  if (err instanceof UnrecoverableError) return { code: "UNRECOVERABLE", message: err.message, retryable: false };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "INTERNAL", message, retryable: true };
}

/** Control-flow errors of BullMQ that are not failures. */
const isControlFlow = (err: unknown) => err instanceof WaitingChildrenError || err instanceof RateLimitError;

/**
 * The BullMQ processor of every queue: validates the payload again, keeps the durable job record
 * current, and maps errors to retries (transient) or `UnrecoverableError` (permanent).
 */
export function createJobHandler(deps: Deps, workerFor: (queue: string) => Worker | undefined) {
  return async (job: Job, token?: string, signal?: AbortSignal): Promise<Record<string, unknown>> => {
    const logger = deps.logger.child({ queue: job.queueName, jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    const jobId = job.id!;
    const internal = isJobName(job.name) && isInternalJob(job.name);
    if (!isJobName(job.name)) {
      await deps.jobs.markFailed(jobId, { code: "UNKNOWN_JOB", message: `no processor for job "${job.name}"` }, true);
      throw new UnrecoverableError(`no processor for job "${job.name}"`);
    }
    const name: JobName = job.name;
    const parsed = jobSchemas[name].safeParse(job.data);
    if (!parsed.success) {
      if (!internal) await deps.jobs.markFailed(jobId, { code: "INVALID_PAYLOAD", message: parsed.error.message }, true);
      throw new UnrecoverableError(`invalid payload for ${name}`);
    }
    if (!internal && !(await deps.jobs.markRunning(jobId, job.attemptsMade + 1))) {
      logger.info("job already ended (cancelled?); skipping");
      return { skipped: true };
    }

    const ctx: JobContext<JobName> = {
      deps,
      logger,
      job,
      signal,
      async progress(percent) {
        await job.updateProgress(percent);
        if (!internal) await deps.jobs.setProgress(jobId, percent);
      },
      async fanOut(children, next) {
        // Stable ids: a parse step that runs again re-adds the same batches, which BullMQ ignores.
        for (const [i, child] of children.entries()) {
          await deps.producer.enqueue("embed_chunks", `${jobId}-b${i}`, child, {
            parent: { id: jobId, queue: job.queueQualifiedName },
          });
        }
        await job.updateData(next);
        await ctx.waitForChildren();
      },
      async waitForChildren() {
        if (await job.moveToWaitingChildren(token!)) throw new WaitingChildrenError();
      },
      async rateLimited(ms) {
        await workerFor(job.queueName)?.rateLimit(ms);
        throw new RateLimitError();
      },
    };

    const started = Date.now();
    let result: Record<string, unknown>;
    try {
      const processor = processors[name] as Processor<JobName>;
      result = await processor(parsed.data as JobData<JobName>, ctx);
    } catch (err) {
      if (isControlFlow(err)) throw err;
      const { code, message, retryable } = classify(err);
      const attempts = job.opts.attempts ?? 1;
      const final = !retryable || job.attemptsMade + 1 >= attempts;
      try {
        if (final) await recordFinalFailure(deps, name, jobId, parsed.data as JobData<JobName>, { code, message });
        else if (!internal) await deps.jobs.markFailed(jobId, { code, message }, false);
      } catch (recordErr) {
        // Postgres down: the reconciler settles the row later from BullMQ's failedReason; the job's
        // own error (and so retry or not) must not be replaced by this one.
        logger.error({ err: recordErr }, "could not record the job's failure");
      }
      logger[final ? "error" : "warn"]({ err, code, final, ms: Date.now() - started }, final ? "job failed" : "job failed; will retry");
      if (!retryable) throw new UnrecoverableError(`${code}: ${message}`);
      throw err;
    }
    // The work is done: a failure to write that down must not turn it into a failed job (the
    // reconciler settles the row from BullMQ's completed job).
    if (!internal) await deps.jobs.markSucceeded(jobId, result).catch((err: unknown) => logger.error({ err }, "could not record the job's success"));
    logger.info({ ms: Date.now() - started }, "job succeeded");
    return result;
  };
}

/**
 * Records a job that BullMQ has failed for good, if the processor did not get to (a job that
 * stalled more than `maxStalledCount` times never reaches it). Idempotent: rows that have already
 * ended are left alone.
 */
export async function settleFailedJob(deps: Deps, job: Job, err: Error): Promise<void> {
  if (!isJobName(job.name) || (await job.getState()) !== "failed") return;
  const parsed = jobSchemas[job.name].safeParse(job.data);
  if (!parsed.success) return;
  const { code, message } = err instanceof AppError ? err : failureFromReason(err.message);
  await recordFinalFailure(deps, job.name, job.id!, parsed.data as JobData<JobName>, { code, message });
}
