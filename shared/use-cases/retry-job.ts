import type { Deps } from "../deps.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { AppError, notFound, unavailable } from "../errors/app-error.ts";
import { isJobName, jobDefinition, type JobName, type JobPayload } from "../jobs/index.ts";
import { acceptWork, lockAcceptance } from "./jobs.ts";

const notRetryable = (message: string) => new AppError("JOB_NOT_RETRYABLE", message, { httpStatus: 409 });

/**
 * Re-queues a failed or cancelled job from its first step with a fresh budget of attempts (a
 * failed document goes back to `queued`). The old BullMQ job and its batches are removed first, so
 * the retry starts clean. Which types may be retried is in their definition (`retry`).
 */
export async function retryJob(deps: Deps, tenantId: string, jobId: string): Promise<JobRow> {
  const current = await deps.jobs.get(tenantId, jobId);
  if (!current) throw notFound("job");
  if (!isJobName(current.type) || !jobDefinition(current.type).retry) throw notRetryable(`${current.type} jobs are not retried; start a new one`);
  if (current.status !== "failed" && current.status !== "cancelled") throw notRetryable(`only failed or cancelled jobs can be retried; this one is ${current.status}`);
  const name: JobName = current.type;
  const definition = jobDefinition(name);
  // Clear the old BullMQ job (and its batches) while the row still says it ended: if Redis
  // refuses, nothing has changed yet and the request fails with 503.
  try {
    await (await deps.producer.queueFor(name).getJob(jobId))?.remove({ removeChildren: true });
  } catch (cause) {
    throw unavailable("QUEUE_UNAVAILABLE", "the job queue could not be reached; nothing was changed", cause);
  }
  return acceptWork(deps, async (tx) => {
    const reset = await tx.jobs.resetForRetry(tenantId, jobId, ["failed", "cancelled"]);
    if (!reset) throw notRetryable("the job is no longer failed or cancelled");
    await lockAcceptance(tx, jobId);
    const data = definition.schema.parse(reset.payload);
    await definition.onRetry?.(tx, data);
    const payload = (definition.restart ? definition.restart(data) : data) as JobPayload<JobName>;
    tx.beforeCommit(async () => {
      try {
        await deps.producer.enqueue(name, jobId, payload);
      } catch (cause) {
        throw unavailable("QUEUE_UNAVAILABLE", "the job queue could not be reached; nothing was changed", cause);
      }
    });
    return reset;
  });
}
