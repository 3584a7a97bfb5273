import type { Deps } from "../deps.ts";
import { isJobName, type JobName, type JobPayload } from "../queues/job-schemas.ts";

/**
 * Postgres is the record of accepted work; Redis may lose it (a restart without persistence, a
 * failover). Every job that Postgres says is queued or running, has not moved for a while, and
 * that BullMQ no longer knows is enqueued again under the same id.
 */
export async function reconcileJobs(deps: Deps, olderThanMs: number): Promise<{ checked: number; requeued: string[] }> {
  const stale = await deps.jobs.findUnfinished(olderThanMs);
  const requeued: string[] = [];
  for (const row of stale) {
    if (!isJobName(row.type)) continue;
    const name: JobName = row.type;
    const queue = deps.producer.queue(deps.producer.definition(name).queue);
    const state = await queue.getJobState(row.id);
    if (state !== "unknown") continue;
    // Start over from the first step: the children of a lost parent are lost with it.
    await deps.producer.enqueue(name, row.id, { ...row.payload, step: undefined } as JobPayload<JobName>);
    await deps.jobs.touch(deps.db, row.id);
    requeued.push(row.id);
  }
  if (requeued.length > 0) deps.logger.warn({ requeued }, "re-enqueued jobs that Redis had lost");
  return { checked: stale.length, requeued };
}
