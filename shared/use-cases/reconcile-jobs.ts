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
export async function reconcileJobs(deps: Deps, olderThanMs: number, limit = 200): Promise<{ checked: number; requeued: string[]; settled: string[] }> {
  const stale = await deps.jobs.findUnfinished(olderThanMs, limit);
  const requeued: string[] = [];
  const settled: string[] = [];
  for (const row of stale) {
    if (!isJobName(row.type)) continue;
    const name: JobName = row.type;
    try {
      const definition = jobDefinition(name);
      const queue = deps.producer.queueFor(name);
      const state = await queue.getJobState(row.id);
      if (state === "unknown") {
        const parsed = definition.schema.safeParse(row.payload);
        if (row.cancel_requested_at) {
          // Asked to stop, and nothing runs it: it ends now rather than being started again.
          if (await endJob(deps, row.id, { status: "cancelled", error: row.cancel_error ?? CANCELLED })) settled.push(row.id);
        } else if (!parsed.success) {
          if (await endJob(deps, row.id, { status: "failed", error: { code: "INVALID_PAYLOAD", message: "the job's stored payload no longer validates" } })) {
            settled.push(row.id);
          }
        } else {
          // Start over from the first step: the batches of a lost parent are lost with it.
          const data = parsed.data;
          await deps.producer.enqueue(name, row.id, (definition.restart ? definition.restart(data) : data) as JobPayload<JobName>);
          await deps.jobs.touch(row.id);
          requeued.push(row.id);
        }
      } else if (state === "failed" || state === "completed") {
        const job = await queue.getJob(row.id);
        if (await settleFromQueue(deps, row.id, { state, failedReason: job?.failedReason, returnvalue: job?.returnvalue })) settled.push(row.id);
      } else {
        // Still waiting or running in BullMQ: fine. Move it to the back of the line so that a long
        // backlog cannot hide the rows behind it from the next run.
        await deps.jobs.touch(row.id);
      }
    } catch (err) {
      // One row must not stop the others: it is looked at again on a later pass.
      deps.logger.warn({ err, jobId: row.id }, "could not reconcile a job record");
      await deps.jobs.touch(row.id).catch(() => undefined);
    }
  }
  if (requeued.length > 0) deps.logger.warn({ requeued }, "re-enqueued jobs that Redis had lost");
  if (settled.length > 0) deps.logger.warn({ settled }, "settled job records that missed their job's end");
  return { checked: stale.length, requeued, settled };
}
