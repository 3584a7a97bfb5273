import type { Deps } from "../deps.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { AppError, notFound, unavailable } from "../errors/app-error.ts";
import { isJobName, jobDefinition, type JobName, type JobPayload } from "../jobs/index.ts";
import { settleJobOutbox } from "../jobs/outbox-relay.ts";
import { acceptWork, lockAcceptance } from "./jobs.ts";

const notRetryable = (message: string) => new AppError("JOB_NOT_RETRYABLE", message, { httpStatus: 409 });
const queueDown = (cause: unknown) => unavailable("QUEUE_UNAVAILABLE", "the job queue could not be reached; nothing was changed", cause);

/**
 * Waits (briefly) until no worker still holds the last run's BullMQ job: its record can end while
 * the processor is still winding down (a batch failed it), and a new run under the same BullMQ id
 * must not start before that processor has let go — its last writes would land on the new run.
 */
async function awaitLastRunQuiet(deps: Deps, name: JobName, jobId: string, timeoutMs = 5_000): Promise<void> {
  const queue = deps.producer.queueFor(name);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A processor holds its job's lock (and renews it) until it has let go of the job.
    const busy = await deps.redis.exists(`${queue.toKey(jobId)}:lock`).then(
      (n) => n === 1,
      (cause: unknown) => Promise.reject(queueDown(cause)),
    );
    if (!busy) return;
    if (Date.now() > deadline) {
      throw new AppError("JOB_NOT_RETRYABLE", "its last run is still finishing; retry in a few seconds", { httpStatus: 409, retryAfter: 5 });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Re-queues a failed or cancelled job from its first step with a fresh budget of attempts, as its
 * next run (a failed document goes back to `queued`). In one transaction: the row is reset, the
 * old BullMQ job and its batches are removed and the new run is queued — Redis refusing any of it
 * changes nothing. Which types may be retried is in their definition (`retry`).
 */
export async function retryJob(deps: Deps, tenantId: string, jobId: string): Promise<JobRow> {
  const current = await deps.jobs.get(tenantId, jobId);
  if (!current) throw notFound("job");
  if (!isJobName(current.type) || !jobDefinition(current.type).retry) throw notRetryable(`${current.type} jobs are not retried; start a new one`);
  if (current.status !== "failed" && current.status !== "cancelled") throw notRetryable(`only failed or cancelled jobs can be retried; this one is ${current.status}`);
  if (current.error?.code === "QUEUE_UNAVAILABLE") {
    // Its request was refused (503) and never applied: retrying the job alone would half-apply it.
    throw notRetryable("this job's request was refused and never applied; send the request again");
  }
  const name: JobName = current.type;
  const definition = jobDefinition(name);
  await awaitLastRunQuiet(deps, name, jobId);
  if (!(await settleJobOutbox(deps, jobId))) {
    // The last run's cleanup (its vectors) must finish before a new run writes the same points.
    throw new AppError("JOB_NOT_RETRYABLE", "its last run could not be cleaned up yet; retry in a few seconds", { httpStatus: 409, retryAfter: 5 });
  }
  return acceptWork(deps, async (tx) => {
    const reset = await tx.jobs.resetForRetry(tenantId, jobId, ["failed", "cancelled"]);
    if (!reset) throw notRetryable("the job is no longer failed or cancelled");
    // A worker that takes the new run before this commits must wait for it, not skip it.
    await lockAcceptance(tx, jobId);
    const data = definition.schema.parse(reset.payload);
    await definition.onRetry?.(tx, data);
    const payload = (definition.restart ? definition.restart(data) : data) as JobPayload<JobName>;
    const priority = await definition.priority?.({ repos: tx, config: deps.config }, data);
    tx.beforeCommit(async () => {
      const queue = deps.producer.queueFor(name);
      try {
        await (await queue.getJob(jobId))?.remove({ removeChildren: true });
      } catch (err) {
        if (/locked|active/i.test((err as Error).message)) throw notRetryable("a batch of its last run is still finishing; retry in a few seconds");
        throw queueDown(err);
      }
      await deps.producer.enqueue(name, jobId, payload, priority ? { priority } : {}).catch((cause: unknown) => Promise.reject(queueDown(cause)));
    });
    return reset;
  });
}
