import type { Deps } from "../deps.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { withTransaction } from "../db/pool.ts";
import { AppError, notFound, unavailable } from "../errors/app-error.ts";
import { isJobName, type JobName } from "../queues/job-schemas.ts";

const CANCELLABLE: readonly JobName[] = ["ingest_document", "reembed_collection"];

const notCancellable = (message: string) => new AppError("JOB_NOT_CANCELLABLE", message, { httpStatus: 409 });

/**
 * Cancels a job that has not started: it leaves the queue and ends `cancelled`; a document it was
 * to ingest ends `failed` with `CANCELLED` (delete it, or upload it again after deleting). A job
 * that a worker has already taken is not interrupted: 409.
 */
export async function cancelJob(deps: Deps, tenantId: string, jobId: string): Promise<JobRow> {
  const current = await deps.jobs.get(tenantId, jobId);
  if (!current) throw notFound("job");
  if (current.status !== "queued" || current.attempts > 0) {
    throw notCancellable(`only jobs that have not started can be cancelled; this one is ${current.status}`);
  }
  if (!isJobName(current.type) || !CANCELLABLE.includes(current.type)) {
    throw notCancellable(`${current.type} jobs cannot be cancelled (a deletion has already hidden what it deletes)`);
  }
  // Take it off the queue first: a worker holding it (lock) makes remove() fail, and then it runs.
  const queued = await deps.producer.queue(deps.producer.definition(current.type).queue).getJob(jobId);
  if (queued) {
    try {
      await queued.remove();
    } catch (err) {
      if (/locked/i.test((err as Error).message)) throw notCancellable("a worker has just started the job");
      throw unavailable("QUEUE_UNAVAILABLE", "the job queue could not be reached; nothing was changed", err);
    }
  }
  return withTransaction(deps.db, async (client) => {
    const row = await deps.jobs.cancelQueued(client, tenantId, jobId);
    if (!row) throw notCancellable("the job has just started");
    if (row.type === "ingest_document") {
      await deps.documents.failQueued(client, String(row.payload.document_id), { code: "CANCELLED", message: "its ingest job was cancelled" });
    }
    if (row.type === "reembed_collection") await deps.collections.abandonReembed(String(row.payload.collection_id), row.id);
    return row;
  });
}
