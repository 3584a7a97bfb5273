import { RateLimitError, UnrecoverableError, WaitingChildrenError, type Job, type Worker } from "bullmq";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors/app-error.ts";
import type { JobRow } from "../shared/db/jobs.repository.ts";
import { JobCancelledError, JobEndedError, type CancelListener } from "../shared/jobs/cancel-bus.ts";
import { CANCELLED, endJob } from "../shared/jobs/end-job.ts";
import { isJobName, jobDefinition, type JobData, type JobName } from "../shared/jobs/index.ts";
import type { Logger } from "../shared/logging/logger.ts";
import type { JobOutcome } from "../shared/ops/metrics.ts";
import { presentJob } from "../shared/presenters.ts";
import { awaitAcceptance } from "../shared/use-cases/jobs.ts";
import { settleFromQueue } from "../shared/use-cases/reconcile-jobs.ts";
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

const CANCELLED_REASON = `CANCELLED: ${CANCELLED.message}`;

/** Ends a job that was asked to stop, with the reason it was asked for. */
async function endCancelled(deps: Deps, jobId: string, row?: JobRow): Promise<void> {
  const reason = (row ?? (await deps.jobs.findById(jobId)))?.cancel_error ?? CANCELLED;
  await endJob(deps, jobId, { status: "cancelled", error: reason });
}

/** The bad input a user sent (a broken or empty file): worth a line at info, never an operator's alarm. */
const isUserError = (err: unknown) => err instanceof AppError && !err.retryable && err.httpStatus >= 400 && err.httpStatus < 500;

/**
 * The BullMQ processor of every queue: validates the payload again, keeps the durable job record
 * current, stops at the next boundary when the job is cancelled, and maps errors to retries
 * (transient) or `UnrecoverableError` (permanent). Every end of a durable job goes through `endJob`.
 */
export function createJobHandler(deps: Deps, workerFor: (queue: string) => Worker | undefined, cancels: CancelListener) {
  return async (job: Job, token?: string, bullSignal?: AbortSignal): Promise<Record<string, unknown>> => {
    const attempt = job.attemptsMade + 1;
    const logger = deps.logger.child({ queue: job.queueName, jobId: job.id, job: job.name, attempt });
    const jobId = job.id!;
    if (!isJobName(job.name)) {
      deps.metrics.jobEnded({ queue: job.queueName, job: "unknown", outcome: "failed", seconds: 0, code: "UNKNOWN_JOB" });
      await endJob(deps, jobId, { status: "failed", error: { code: "UNKNOWN_JOB", message: `no processor for job "${job.name}"` } });
      throw new UnrecoverableError(`UNKNOWN_JOB: no processor for job "${job.name}"`);
    }
    const name: JobName = job.name;
    const definition = jobDefinition(name);
    const durable = definition.visibility !== "internal";
    const parsed = definition.schema.safeParse(job.data);
    if (!parsed.success) {
      logger.error({ issues: parsed.error.issues }, "invalid job payload");
      deps.metrics.jobEnded({ queue: job.queueName, job: name, outcome: "failed", seconds: 0, code: "INVALID_PAYLOAD" });
      if (durable) await endJob(deps, jobId, { status: "failed", error: { code: "INVALID_PAYLOAD", message: parsed.error.message } });
      throw new UnrecoverableError(`INVALID_PAYLOAD: invalid payload for ${name}`);
    }
    const data = parsed.data;
    const ownerId = durable ? jobId : definition.owner?.(data);

    if (durable) {
      // A job taken before its request committed waits for it; one that was rolled back, or has
      // ended (cancelled, settled by the healer), does not run.
      let row = (await deps.jobs.markRunning(jobId, attempt)) ?? (await awaitAcceptance(deps, jobId).then(() => deps.jobs.markRunning(jobId, attempt)));
      if (!row) {
        logger.info("job already ended or was never accepted; skipping");
        return { skipped: true };
      }
      if (row.cancel_requested_at) {
        await endCancelled(deps, jobId, row);
        deps.metrics.jobEnded({ queue: job.queueName, job: name, outcome: "cancelled", seconds: 0 });
        logger.info("job was cancelled before this attempt started");
        throw new UnrecoverableError(CANCELLED_REASON);
      }
      await deps.jobs.addEvent(jobId, "progress", presentJob(row));
      row = undefined;
    }

    const controller = new AbortController();
    const signal = bullSignal ? AbortSignal.any([bullSignal, controller.signal]) : controller.signal;
    const untrack = ownerId ? cancels.track(ownerId, controller) : () => undefined;
    const ctx: JobContext<JobName> = {
      deps,
      logger,
      job,
      signal,
      async checkpoint() {
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new JobCancelledError();
        if (!ownerId) return;
        const { ended, cancelRequested } = await deps.jobs.stopState(ownerId);
        if (ended) throw new JobEndedError();
        if (cancelRequested) throw new JobCancelledError();
      },
      async progress(percent) {
        await job.updateProgress(percent);
        if (!durable) return;
        const moved = await deps.jobs.setProgress(jobId, percent);
        if (moved) await deps.jobs.addEvent(jobId, "progress", presentJob(moved));
      },
      async fanOut(children, next) {
        // Stable ids: a parse step that runs again re-adds the same batches, which BullMQ ignores.
        for (const [i, child] of children.entries()) {
          await deps.producer.enqueue("embed_chunks", `${jobId}-b${i}`, child, {
            // The parent's place in the fair order holds for its batches on the embed queue too.
            ...(job.opts.priority ? { priority: job.opts.priority } : {}),
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
    const ended = (outcome: JobOutcome) => deps.metrics.jobEnded({ queue: job.queueName, job: name, outcome, seconds: (Date.now() - started) / 1000, enqueuedAt: job.timestamp });
    const stopRunning = deps.metrics.jobStarted(job.queueName);
    let result: Record<string, unknown>;
    try {
      const processor = processors[name] as Processor<JobName>;
      result = await processor(data as JobData<JobName>, ctx);
    } catch (err) {
      if (isControlFlow(err)) {
        if (err instanceof WaitingChildrenError) ended("waiting_children");
        throw err;
      }
      if (err instanceof JobEndedError) {
        // Its record has its end already (a batch failed it): nothing to write, nothing to retry.
        ended("stopped");
        logger.info({ ms: Date.now() - started }, "job stopped: it was ended elsewhere");
        if (!durable) return { stopped: true };
        throw new UnrecoverableError(`JOB_ENDED: ${err.message}`);
      }
      if (err instanceof JobCancelledError || (signal.aborted && signal.reason instanceof JobCancelledError)) {
        ended("cancelled");
        logger.info({ ms: Date.now() - started }, "job cancelled");
        if (!durable) return { cancelled: true }; // its owner ends itself (or was ended by the API)
        await endCancelled(deps, jobId).catch((recordErr: unknown) => logger.warn({ err: recordErr }, "could not record the cancel; the healer settles it"));
        throw new UnrecoverableError(CANCELLED_REASON);
      }
      const outcome = await recordFailure(deps, logger, { job, durable, ownerId, err, ms: Date.now() - started });
      // Asked to stop while this attempt failed: it ends cancelled now, not after the backoff.
      if (outcome === "cancelled") throw new UnrecoverableError(CANCELLED_REASON);
      if (!classify(err).retryable) throw new UnrecoverableError(`${classify(err).code}: ${classify(err).message}`);
      throw err;
    } finally {
      untrack();
      stopRunning();
    }
    if (durable) {
      // The work is done: a failure to write that down must not turn it into a failed job (the
      // healer ends the row from BullMQ's completed job within seconds).
      await endJob(deps, jobId, { status: "succeeded", result }).catch((err: unknown) => logger.warn({ err }, "could not record the job's success; the healer settles it"));
    }
    ended("completed");
    logger.info({ ms: Date.now() - started }, "job succeeded");
    return result;
  };
}

/**
 * Records a failed attempt: the job waits for its next one, or (final) it and its owner end failed.
 * A job that was asked to stop does not wait for another attempt: it ends `cancelled`.
 */
async function recordFailure(
  deps: Deps,
  logger: Logger,
  attempt: { job: Job; durable: boolean; ownerId: string | undefined; err: unknown; ms: number },
): Promise<"recorded" | "cancelled"> {
  const { job, durable, ownerId, err, ms } = attempt;
  const { code, message, retryable } = classify(err);
  const final = !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  try {
    if (final && ownerId) await endJob(deps, ownerId, { status: "failed", error: { code, message } });
    else if (durable) {
      const waiting = await deps.jobs.markRetrying(job.id!, { code, message });
      if (waiting) await deps.jobs.addEvent(waiting.id, "progress", presentJob(waiting));
      const row = waiting ? undefined : await deps.jobs.findById(job.id!);
      if (row?.cancel_requested_at && (row.status === "running" || row.status === "queued")) {
        await endCancelled(deps, job.id!, row);
        deps.metrics.jobEnded({ queue: job.queueName, job: job.name, outcome: "cancelled", seconds: ms / 1000 });
        logger.info({ code, ms }, "job failed after its cancel was asked for; it ends cancelled");
        return "cancelled";
      }
    }
  } catch (recordErr) {
    // Postgres down: the healer ends the row later from BullMQ's failedReason; the job's own
    // error (and so retry or not) must not be replaced by this one.
    logger.warn({ err: recordErr }, "could not record the job's failure; the healer settles it");
  }
  const fault = isUserError(err) ? "input" : "system";
  deps.metrics.jobEnded({ queue: job.queueName, job: job.name, outcome: final ? "failed" : "retried", seconds: ms / 1000, code, fault, enqueuedAt: job.timestamp });
  if (isUserError(err)) logger.info({ code, message, ms }, "job failed: the document cannot be processed");
  else if (!final) logger.warn({ err, code, ms }, "job failed; will retry");
  else logger.error({ err, code, ms }, "job failed");
  return "recorded";
}

/**
 * Settles a job that BullMQ has failed for good without the processor recording it (a job that
 * stalled more than `maxStalledCount` times never reaches it). Idempotent: ended rows stay as they are.
 */
export async function settleFailedJob(deps: Deps, job: Job): Promise<void> {
  if (!isJobName(job.name) || (await job.getState()) !== "failed") return;
  const definition = jobDefinition(job.name);
  const parsed = definition.schema.safeParse(job.data);
  if (!parsed.success) return;
  const target = definition.visibility !== "internal" ? job.id! : definition.owner?.(parsed.data);
  if (target) await settleFromQueue(deps, target, { state: "failed", failedReason: job.failedReason });
}
