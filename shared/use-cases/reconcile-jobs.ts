import type { Deps } from "../deps.ts";
import { isJobName, jobSchemas, type JobData, type JobName, type JobPayload } from "../queues/job-schemas.ts";
import { recordFinalFailure } from "./job-outcomes.ts";

/** Splits BullMQ's failedReason ("CODE: message", as the worker writes it) into a code and a message. */
export function failureFromReason(reason: string | undefined): { code: string; message: string } {
  const match = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(reason ?? "");
  if (match) return { code: match[1]!, message: match[2]! };
  if (/stalled/i.test(reason ?? "")) return { code: "JOB_STALLED", message: "the workers running this job stopped answering too many times" };
  return { code: "JOB_FAILED", message: reason || "the job failed" };
}

/**
 * Postgres is the record of accepted work; Redis is where it runs. For every job that Postgres
 * says is queued or running and that has not moved for a while:
 * - BullMQ no longer knows it (Redis lost it): enqueue it again under the same id, from its first step;
 * - BullMQ failed or completed it without the row hearing of it (a stalled job, Postgres down at
 *   the time): settle the row.
 */
export async function reconcileJobs(deps: Deps, olderThanMs: number): Promise<{ checked: number; requeued: string[]; settled: string[] }> {
  const stale = await deps.jobs.findUnfinished(olderThanMs);
  const requeued: string[] = [];
  const settled: string[] = [];
  for (const row of stale) {
    if (!isJobName(row.type)) continue;
    const name: JobName = row.type;
    const queue = deps.producer.queue(deps.producer.definition(name).queue);
    const state = await queue.getJobState(row.id);
    if (state === "unknown") {
      // Start over from the first step: the children of a lost parent are lost with it.
      await deps.producer.enqueue(name, row.id, { ...row.payload, step: undefined } as JobPayload<JobName>);
      await deps.jobs.touch(deps.db, row.id);
      requeued.push(row.id);
    } else if (state === "failed") {
      const job = await queue.getJob(row.id);
      const data = jobSchemas[name].parse(row.payload) as JobData<JobName>;
      await recordFinalFailure(deps, name, row.id, data, failureFromReason(job?.failedReason));
      settled.push(row.id);
    } else if (state === "completed") {
      const job = await queue.getJob(row.id);
      await deps.jobs.markSucceeded(row.id, (job?.returnvalue as object | undefined) ?? {});
      settled.push(row.id);
    } else {
      // Still waiting or running in BullMQ: fine. Move it to the back of the line so that a long
      // backlog cannot hide the rows behind it from the next run.
      await deps.jobs.touch(deps.db, row.id);
    }
  }
  if (requeued.length > 0) deps.logger.warn({ requeued }, "re-enqueued jobs that Redis had lost");
  if (settled.length > 0) deps.logger.warn({ settled }, "settled job records that missed their job's end");
  return { checked: stale.length, requeued, settled };
}
