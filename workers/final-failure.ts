import type { Deps } from "../shared/deps.ts";
import type { JobData, JobName } from "../shared/queues/job-schemas.ts";
import { abandonReembed } from "../shared/use-cases/reembed.ts";

type Failure = { code: string; message: string };

/** What a job's final failure means for the resource it acted on, and for its parent job. */
export async function onFinalFailure(deps: Deps, name: JobName, data: JobData<JobName>, error: Failure): Promise<void> {
  switch (name) {
    case "ingest_document": {
      await deps.documents.setStatus((data as JobData<"ingest_document">).document_id, "failed", error);
      return;
    }
    case "reembed_collection": {
      await abandonReembed(deps, data as JobData<"reembed_collection">);
      return;
    }
    case "embed_chunks": {
      // BullMQ fails the parent (failParentOnFailure) without running it: record that here.
      const batch = data as JobData<"embed_chunks">;
      const parent = await deps.jobs.findById(batch.parent_job_id);
      if (!parent || parent.status === "failed") return;
      await deps.jobs.markFailed(parent.id, error, true);
      if (parent.type === "ingest_document") await deps.documents.setStatus(String(parent.payload.document_id), "failed", error);
      if (parent.type === "reembed_collection") await abandonReembed(deps, parent.payload as JobData<"reembed_collection">);
      return;
    }
    default:
      return;
  }
}
