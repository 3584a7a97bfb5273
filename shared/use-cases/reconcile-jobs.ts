import type { JobRow } from "../db/jobs.repository.ts";
import type { Deps } from "../deps.ts";
import { CANCELLED, endJob } from "../jobs/end-job.ts";
import { isJobName, jobDefinition, type JobName, type JobPayload } from "../jobs/index.ts";

/** Splits BullMQ's failedReason ("CODE: message", as the worker writes it) into a code and a message. */
export function failureFromReason(reason: string | undefined): { code: string; message: string } {
  const match = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(reason ?? "");
  if (match) return { code: match[1]!, message: match[2]! };
  if (/stalled/i.test(reason ?? "")) return { code: "JOB_STALLED", message: "the workers running this job stopped answering too many times" };
  return { code: "JOB_FAILED", message: reason || "the job failed" };
}

/** The return value of a BullMQ job whose worker found its row ended and did nothing. */
export const isSkipped = (returnvalue: unknown) => (returnvalue as { skipped?: unknown } | null | undefined)?.skipped === true;

/**
 * Ends a durable job the way BullMQ ended it: completed → succeeded with its return value; failed
 * → failed with the code the worker wrote ("CODE: message"), or cancelled when that code says so.
 */
export async function settleFromQueue(
  deps: Pick<Deps, "db" | "logger">,
  jobId: string,
  ended: { state: "failed" | "completed"; failedReason?: string; returnvalue?: unknown },
): Promise<boolean> {
  if (ended.state === "completed") {
    // A worker that found the row ended completes the BullMQ job as `{skipped: true}`: no work done.
    if (isSkipped(ended.returnvalue)) return false;
    const result = ended.returnvalue && typeof ended.returnvalue === "object" ? ended.returnvalue : {};
    return Boolean(await endJob(deps, jobId, { status: "succeeded", result }));
  }
  const error = failureFromReason(ended.failedReason);
  return Boolean(await endJob(deps, jobId, error.code === "CANCELLED" ? { status: "cancelled", error } : { status: "failed", error }));
}

/**
 * Postgres is the record of accepted work; Redis is where it runs. For every job that Postgres
 * says is queued or running and that has not moved for `olderThanMs`:
 * - BullMQ no longer knows it (Redis lost it): enqueue it again under the same id, from its first step;
 * - BullMQ failed or completed it without the row hearing of it (a stalled job, Postgres down at
 *   the time): end the row the way BullMQ ended the job.
 * Every process runs it every few seconds (see housekeeper.ts), so such rows heal in seconds.
 */
export async function reconcileJobs(
  deps: Deps,
  olderThanMs: number,
  options: { limit?: number; budgetMs?: number } = {},
): Promise<{ checked: number; requeued: string[]; settled: string[] }> {
  const started = Date.now();
  const stale = await deps.jobs.findUnfinished(olderThanMs, options.limit ?? 500);
  const requeued: string[] = [];
  const settled: string[] = [];
  let checked = 0;
  // States are asked in parallel, a chunk at a time (one round trip each chunk, not each row);
  // a pass stops at its time budget and the next one picks up where the touches left off.
  for (let i = 0; i < stale.length && Date.now() - started < (options.budgetMs ?? 3_000); i += 25) {
    const chunk = stale.slice(i, i + 25);
    const states = await Promise.all(
      chunk.map((row) => (isJobName(row.type) ? deps.producer.queueFor(row.type).getJobState(row.id).catch(() => "error" as const) : Promise.resolve("error" as const))),
    );
    const fine: string[] = [];
    for (const [k, row] of chunk.entries()) {
      const state = states[k]!;
      checked++;
      if (!isJobName(row.type)) {
        // A type this release does not know: it cannot run here, and must not block the rows behind it.
        const error = { code: "UNKNOWN_JOB", message: `this release has no job type "${row.type}"` };
        if (await endJob(deps, row.id, { status: "failed", error }).catch(() => undefined)) settled.push(row.id);
        continue;
      }
      if (state === "error") {
        fine.push(row.id);
        continue;
      }
      if (state !== "unknown" && state !== "failed" && state !== "completed") {
        fine.push(row.id); // still waiting or running in BullMQ
        continue;
      }
      try {
        if (await healRow(deps, row, row.type, state)) (state === "unknown" && !row.cancel_requested_at ? requeued : settled).push(row.id);
      } catch (err) {
        // One row must not stop the others: it is looked at again on a later pass.
        deps.logger.warn({ err, jobId: row.id }, "could not reconcile a job record");
        fine.push(row.id);
      }
    }
    // To the back of the line, so that a long backlog cannot hide the rows behind it.
    await deps.jobs.touchMany(fine);
  }
  if (requeued.length > 0) deps.logger.warn({ requeued }, "re-enqueued jobs that Redis had lost");
  if (settled.length > 0) deps.logger.warn({ settled }, "settled job records that missed their job's end");
  return { checked, requeued, settled };
}

/** Heals one row whose BullMQ job is gone or has ended; true when the row changed. */
async function healRow(deps: Deps, row: JobRow, name: JobName, state: "unknown" | "failed" | "completed"): Promise<boolean> {
  const definition = jobDefinition(name);
  const queue = deps.producer.queueFor(name);
  if (state === "failed" || state === "completed") {
    const job = await queue.getJob(row.id);
    const skipped = state === "completed" && isSkipped(job?.returnvalue);
    // A worker that found the row ended completes its BullMQ job without doing the work; the row
    // being unfinished again means a later run needs it done: start that run, do not call it done.
    if (!skipped) return settleFromQueue(deps, row.id, { state, failedReason: job?.failedReason, returnvalue: job?.returnvalue });
    await job?.remove();
  }
  if (row.cancel_requested_at) {
    // Asked to stop, and nothing runs it: it ends now rather than being started again.
    return Boolean(await endJob(deps, row.id, { status: "cancelled", error: row.cancel_error ?? CANCELLED }));
  }
  const parsed = definition.schema.safeParse(row.payload);
  if (!parsed.success) {
    return Boolean(await endJob(deps, row.id, { status: "failed", error: { code: "INVALID_PAYLOAD", message: "the job's stored payload no longer validates" } }));
  }
  // Start over from the first step: the batches of a lost parent are lost with it.
  const priority = await definition.priority?.({ repos: deps, config: deps.config }, parsed.data);
  await deps.producer.enqueue(name, row.id, (definition.restart ? definition.restart(parsed.data) : parsed.data) as JobPayload<JobName>, priority ? { priority } : {});
  await deps.jobs.touch(row.id);
  return true;
}
