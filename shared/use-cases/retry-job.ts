import type { Deps } from "../deps.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { withTransaction } from "../db/pool.ts";
import { AppError, notFound, unavailable } from "../errors/app-error.ts";
import { isJobName, type JobName } from "../queues/job-schemas.ts";
import { dispatchJob } from "./jobs.ts";

/** Jobs whose retry is starting over: re-embeds are started anew instead (their collection state moved on). */
const RETRYABLE: readonly JobName[] = ["ingest_document", "delete_document", "delete_collection"];

const notRetryable = (message: string) => new AppError("JOB_NOT_RETRYABLE", message, { httpStatus: 409 });

/**
 * Re-queues a failed job from its first step with a fresh budget of attempts (a failed document goes
 * back to `queued`). The old BullMQ job and its batches are removed first, so the retry starts clean.
 */
export async function retryJob(deps: Deps, tenantId: string, jobId: string): Promise<JobRow> {
  const current = await deps.jobs.get(tenantId, jobId);
  if (!current) throw notFound("job");
  if (!isJobName(current.type) || !RETRYABLE.includes(current.type)) {
    throw notRetryable(`${current.type} jobs are not retried; start a new one`);
  }
  if (current.status !== "failed") throw notRetryable(`only failed jobs can be retried; this one is ${current.status}`);
  const name: JobName = current.type;
  // Clear the old BullMQ job (and its batches) while the row still says failed: if Redis refuses,
  // nothing has changed yet and the request fails with 503.
  const queue = deps.producer.queue(deps.producer.definition(name).queue);
  try {
    await (await queue.getJob(jobId))?.remove({ removeChildren: true });
  } catch (cause) {
    throw unavailable("QUEUE_UNAVAILABLE", "the job queue could not be reached; nothing was changed", cause);
  }
  const row = await withTransaction(deps.db, async (client) => {
    if (name === "ingest_document" && !(await deps.documents.requeue(client, String(current.payload.document_id)))) {
      throw notRetryable("the document was deleted, or its uploaded bytes are gone; upload it again");
    }
    const reset = await deps.jobs.resetForRetry(client, tenantId, jobId);
    if (!reset) throw notRetryable("the job is no longer failed");
    return reset;
  });
  await dispatchJob(deps, row, async (error) => {
    if (name === "ingest_document") await deps.documents.markFailed(String(current.payload.document_id), error);
  });
  return row;
}
