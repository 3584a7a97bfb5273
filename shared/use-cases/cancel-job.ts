import type { Deps } from "../deps.ts";
import type { JobError, JobRow } from "../db/jobs.repository.ts";
import { AppError, notFound, unavailable } from "../errors/app-error.ts";
import { publishCancel } from "../jobs/cancel-bus.ts";
import { CANCELLED, endJob } from "../jobs/end-job.ts";
import { isJobName, jobDefinition } from "../jobs/index.ts";
import { presentJob } from "../presenters.ts";
import { isSkipped, settleFromQueue } from "./reconcile-jobs.ts";

const notCancellable = (message: string) => new AppError("JOB_NOT_CANCELLABLE", message, { httpStatus: 409 });
const queueDown = (cause: unknown) => unavailable("QUEUE_UNAVAILABLE", "the job queue could not be reached; nothing was changed", cause);

export interface CancelOutcome {
  job: JobRow;
  /** true: it ended `cancelled` now; false: the worker holding it stops at its next boundary. */
  ended: boolean;
}

/**
 * Cancels a job. One that no worker holds (waiting, delayed for a retry, or parked while its
 * batches wait) leaves the queue and ends `cancelled` at once. One that a worker holds is asked to
 * stop: every worker process hears it through Redis, and the one holding the job aborts it at its
 * next batch or page boundary, then ends it `cancelled`. What each job type allows is in its
 * definition (`cancel`); what a cancel does to the document or collection is its `onEnd` hook.
 * `reason` names why, when it is not the client asking (its document or collection was deleted).
 */
export async function cancelJob(deps: Deps, tenantId: string, jobId: string, reason: JobError = CANCELLED): Promise<CancelOutcome> {
  const current = await deps.jobs.get(tenantId, jobId);
  if (!current) throw notFound("job");
  if (current.status !== "queued" && current.status !== "running") throw notCancellable(`the job has already ended (${current.status})`);
  if (!isJobName(current.type)) throw notCancellable(`${current.type} jobs cannot be cancelled`);
  const definition = jobDefinition(current.type);
  if (definition.cancel === "never") throw notCancellable(`${current.type} jobs cannot be cancelled: a deletion hides what it deletes at once`);
  if (definition.cancel === "queued" && !(current.status === "queued" && current.attempts === 0)) {
    throw notCancellable(`only ${current.type} jobs that have not started can be cancelled`);
  }
  const queue = deps.producer.queueFor(current.type);
  const bullJob = await queue.getJob(jobId).catch((cause: unknown) => Promise.reject(queueDown(cause)));
  const state = bullJob ? await bullJob.getState().catch((cause: unknown) => Promise.reject(queueDown(cause))) : "unknown";
  if (bullJob && (state === "completed" || state === "failed") && !isSkipped(bullJob.returnvalue)) {
    // BullMQ ended it; the record has not heard yet (the healer would settle it in seconds).
    await settleFromQueue(deps, jobId, { state, failedReason: bullJob.failedReason, returnvalue: bullJob.returnvalue });
    throw notCancellable("the job has already ended");
  }
  // The request is recorded first: whatever happens next, the worker and the healer see it.
  if (definition.cancel === "running") {
    const asked = await deps.jobs.requestCancel(jobId, reason);
    if (!asked) throw notCancellable("the job has just ended");
    await deps.jobs.addEvent(jobId, "progress", presentJob(asked));
  }

  // Whatever no worker holds can simply leave the queue (with its batches); a held job refuses.
  let removed = !bullJob;
  if (bullJob) {
    try {
      await bullJob.remove({ removeChildren: true });
      removed = true;
    } catch (err) {
      const held = /locked|active/i.test((err as Error).message);
      // Before the request was written, Redis failing means nothing changed: 503. After it, the
      // cancel is accepted whatever Redis does — the worker or the healer ends the job.
      if (!held && definition.cancel !== "running") throw queueDown(err);
      if (!held) deps.logger.warn({ err, jobId }, "could not take a cancelled job off the queue; the worker or the healer ends it");
    }
  }
  if (removed) {
    const ended = await endJob(deps, jobId, { status: "cancelled", error: reason });
    if (ended) return { job: ended, ended: true };
  }
  // A worker may have ended it meanwhile — cancelled, because it saw the request: say so as it is.
  const now = await deps.jobs.findById(jobId);
  if (now?.status === "cancelled") return { job: now, ended: true };
  if (!now || (now.status !== "queued" && now.status !== "running")) throw notCancellable(`the job has already ended (${now?.status ?? "gone"})`);
  if (definition.cancel !== "running") throw notCancellable("a worker has just started the job");
  // Children no worker holds (a step or a batch waiting for its retry) leave now: the parked job
  // then wakes as soon as the held ones stop, instead of after their siblings' backoff.
  if (bullJob) await bullJob.removeUnprocessedChildren().catch((err: unknown) => deps.logger.info({ err, jobId }, "could not take a cancelled job's waiting children off the queue"));
  await publishCancel(deps.redis, deps.config.QUEUE_PREFIX, jobId).catch((err: unknown) =>
    // The worker still sees the request in the job's record at its next boundary.
    deps.logger.warn({ err, jobId }, "could not broadcast a cancel; the worker will see it in the job record"),
  );
  return { job: now, ended: false };
}

/**
 * Asks unfinished jobs of `types` acting on `resourceIds` to stop because `reason` (a deleted
 * document's ingest, a deleted collection's re-embed). Best effort: what is left finds its
 * resource gone and ends.
 */
export async function requestCancels(deps: Deps, resourceIds: string[], types: readonly string[], reason: JobError): Promise<void> {
  if (resourceIds.length === 0) return;
  for (const row of await deps.jobs.unfinishedFor(resourceIds, types)) {
    await cancelJob(deps, row.tenant_id, row.id, reason).catch((err: unknown) => deps.logger.info({ err, jobId: row.id }, "could not cancel a job of a deleted resource"));
  }
}
