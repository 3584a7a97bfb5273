import { z } from "zod";
import { removeDocumentVectors } from "../use-cases/vector-cleanup.ts";
import { fairPriority } from "./fair-priority.ts";
import { defineJob, retried } from "./job-definition.ts";
import { AppError } from "../errors/app-error.ts";

/** Parse and chunk a document, fan out `embed_chunks` batches, then mark it ready. */
export const ingestDocumentJob = defineJob({
  name: "ingest_document",
  schema: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    document_id: z.uuid(),
    /** A URL document fetched again (`refresh: true`): re-ingested only when its content changed. */
    refresh: z.boolean().optional(),
    /** Where a resumed job continues: set by the job itself once its batches are queued. */
    step: z.enum(["parse", "finalize"]).default("parse"),
  }),
  queue: "ingest",
  options: ({ attempts }) => retried(attempts),
  visibility: "tenant",
  cancel: "running",
  retry: true,
  restart: ({ step: _step, ...data }) => data,
  // A tenant's n-th waiting document runs after every tenant's first (TENANT_FAIR_QUEUING).
  priority: (ctx, data) => fairPriority(ctx, data.tenant_id),
  async onEnd(tx, { status, data, error }) {
    // The document turns ready in the same transaction that ends its job, or fails with the job's
    // error (a cancel: CANCELLED); a failed document keeps its bytes for a retry, not its chunks.
    if (status === "succeeded") await tx.documents.markReady(data.document_id);
    else await tx.documents.failIngest(data.document_id, error ?? { code: "CANCELLED", message: "its ingest job was cancelled" });
  },
  async afterEnd(deps, { status, data }) {
    if (status === "succeeded") return;
    // A refresh that failed before it found new content leaves the document ready, vectors and all.
    if ((await deps.documents.findById(data.document_id))?.status === "ready") return;
    // Batches that were stored before the job failed or was cancelled leave nothing behind.
    await removeDocumentVectors(deps, { tenantId: data.tenant_id, collectionId: data.collection_id, documentId: data.document_id });
  },
  async onRetry(tx, data) {
    // A retry is an upload again: the same lock, the same refusal while a re-embed runs (it plans
    // only ready chunks and would switch away from what this run writes).
    const collection = await tx.collections.lockForUpload(data.collection_id);
    if (collection === "gone") throw new AppError("JOB_NOT_RETRYABLE", "the document's collection was deleted", { httpStatus: 409 });
    if (collection === "reembedding" || collection === "restoring") {
      const what = collection === "reembedding" ? "re-embedded; retry when its re-embed job has ended" : "restored from a backup; retry when the restore job has ended";
      throw new AppError("COLLECTION_BUSY", `the collection is being ${what}`, { httpStatus: 409, retryAfter: 30 });
    }
    if (!(await tx.documents.requeue(data.document_id))) {
      throw new AppError(
        "JOB_NOT_RETRYABLE",
        "the document was deleted, or its uploaded bytes are gone (upload it again), or it is a URL document that is still ready (post its url again with refresh: true)",
        { httpStatus: 409 },
      );
    }
  },
});
