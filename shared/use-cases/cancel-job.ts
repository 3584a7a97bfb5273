import type { Deps } from "../deps.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { withTransaction } from "../db/transaction.ts";
import { AppError, notFound, unavailable } from "../errors/app-error.ts";
import { publishCancel } from "../jobs/cancel-bus.ts";
import { CANCELLED, endJob } from "../jobs/end-job.ts";
import { isJobName, jobDefinition } from "../jobs/index.ts";

const notCancellable = (message: string) => new AppError("JOB_NOT_CANCELLABLE", message, { httpStatus: 409 });

export type CancelOutcome = { job: JobRow; ended: true } | { job: JobRow; ended: false };

/**
 * Cancels a job. One that no worker holds (waiting, delayed for a retry, or parked while its
 * batches wait) leaves the queue and ends `cancelled` at once. One that a worker holds is asked to
 * stop: every worker process hears it through Redis, and the one holding the job aborts it at its
 * next batch or page boundary, then ends it `cancelled`. What each job type allows is in its
 * definition (`cancel`); what a cancel does to the document or collection is its `onEnd` hook.
 */
export async function cancelJob(deps: Deps, tenantId: string, jobId: string): Promise<CancelOutcome> {
  const current = await deps.jobs.get(tenantId, jobId);
  if (!current) throw notFound("job");
  if (current.status !== "queued" && current.status !== "running") throw notCancellable(`the job has already ended (${current.status})`);
  if (!isJobName(current.type)) throw notCancellable(`${current.type} jobs cannot be cancelled`);
  const definition = jobDefinition(current.type);
  const notStarted = current.status === "queued" && current.attempts === 0;
  if (definition.cancel === "never") throw notCancellable(`${current.type} jobs cannot be cancelled: a deletion hides what it deletes at once`);
  if (definition.cancel === "queued" && !notStarted) throw notCancellable(`only ${current.type} jobs that have not started can be cancelled`);

  // Whatever no worker holds can simply leave the queue (with its batches); a held job refuses.
  let removed: boolean;
  try {
    const queued = await deps.producer.queueFor(current.type).getJob(jobId);
    removed = !queued || (await queued.remove({ removeChildren: true }).then(() => true, (err: Error) => (/locked|active/i.test(err.message) ? false : Promise.reject(err))));
  } catch (cause) {
    throw unavailable("QUEUE_UNAVAILABLE", "the job queue could not be reached; nothing was changed", cause);
  }
  if (removed) {
    const ended = await endJob(deps, jobId, { status: "cancelled", error: CANCELLED });
    if (ended) return { job: ended, ended: true };
    const after = await deps.jobs.findById(jobId);
    throw notCancellable(`the job has already ended (${after?.status ?? "gone"})`);
  }
  if (definition.cancel !== "running") throw notCancellable("a worker has just started the job");
  const asked = await deps.jobs.requestCancel(jobId);
  if (!asked) throw notCancellable("the job has just ended");
  await publishCancel(deps.redis, deps.config.QUEUE_PREFIX, jobId).catch((err: unknown) =>
    // The worker still sees the request in the job's record at its next boundary.
    deps.logger.warn({ err, jobId }, "could not broadcast a cancel; the worker will see it in the job record"),
  );
  return { job: asked, ended: false };
}

/**
 * Asks unfinished jobs of `types` acting on `resourceIds` to stop (a deleted document's ingest, a
 * deleted collection's re-embed). Best effort: what is left finds its resource gone and ends.
 */
export async function requestCancels(deps: Deps, resourceIds: string[], types: readonly string[]): Promise<void> {
  if (resourceIds.length === 0) return;
  for (const row of await deps.jobs.unfinishedFor(resourceIds, types)) {
    await cancelJob(deps, row.tenant_id, row.id).catch((err: unknown) => deps.logger.info({ err, jobId: row.id }, "could not cancel a job of a deleted resource"));
  }
}

/** Ends a job that was asked to stop, from the worker that stopped it. */
export async function endCancelled(deps: Pick<Deps, "db" | "logger">, jobId: string): Promise<JobRow | undefined> {
  return withTransaction(deps.db, (tx) => endJob(deps, jobId, { status: "cancelled", error: CANCELLED }, tx));
}
