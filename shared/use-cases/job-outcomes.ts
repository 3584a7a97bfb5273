import type { Deps } from "../deps.ts";
import type { JobData, JobName } from "../queues/job-schemas.ts";
import { abandonReembed } from "./reembed.ts";

export type Failure = { code: string; message: string };

/**
 * A job failed for good: record it on its durable row (unless the row has already ended) and on
 * the resource it acted on — or, for an embedding batch, on its parent job. Safe to call more than
 * once for the same failure (the processor, the worker's `failed` event and the reconciler may all
 * see it).
 */
export async function recordFinalFailure(deps: Deps, name: JobName, jobId: string, data: JobData<JobName>, error: Failure): Promise<void> {
  switch (name) {
    case "ingest_document":
      await deps.jobs.markFailed(jobId, error, true);
      await deps.documents.markFailed((data as JobData<"ingest_document">).document_id, error);
      return;
    case "reembed_collection":
      await deps.jobs.markFailed(jobId, error, true);
      await abandonReembed(deps, data as JobData<"reembed_collection">, jobId);
      return;
    case "embed_chunks": {
      // BullMQ fails the parent (failParentOnFailure) without running it: record that here.
      const batch = data as JobData<"embed_chunks">;
      const parent = await deps.jobs.findById(batch.parent_job_id);
      if (!parent || parent.status === "failed" || parent.status === "succeeded") return;
      if (parent.type === "ingest_document" || parent.type === "reembed_collection") {
        await recordFinalFailure(deps, parent.type, parent.id, parent.payload as JobData<typeof parent.type>, error);
      }
      return;
    }
    case "reconcile_jobs":
      return;
    default:
      await deps.jobs.markFailed(jobId, error, true);
  }
}
