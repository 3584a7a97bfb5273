import { createHash, randomUUID } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { DocumentRow } from "../db/documents.repository.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { withTransaction } from "../db/transaction.ts";
import { AppError, notFound, permanent } from "../errors/app-error.ts";
import { assertSupportedType } from "../parsing/detect-type.ts";
import type { JobPayload } from "../jobs/index.ts";
import { getCollection } from "./collections.ts";
import { batchJobs, planBatches } from "./embed-chunks.ts";
import { acceptWork, recordJob } from "./jobs.ts";
import { requestCancels } from "./cancel-job.ts";
import { admitToTenantQueue } from "./tenant-queue-caps.ts";
import { removeDocumentVectors } from "./vector-cleanup.ts";

export interface DocumentInput {
  content: Buffer;
  mimeType: string;
  title?: string | null;
  metadata?: Record<string, unknown>;
  externalId?: string | null;
  callbackUrl?: string | null;
}

const busyReembedding = () =>
  new AppError("COLLECTION_BUSY", "the collection is being re-embedded; upload again when its re-embed job has ended", {
    httpStatus: 409,
    retryAfter: 30,
  });

/** While a restore replaces the collection's records and vectors, nothing else changes them. */
export const busyRestoring = (what = "upload") =>
  new AppError("COLLECTION_BUSY", `the collection is being restored from a backup; ${what} again when the restore job has ended`, {
    httpStatus: 409,
    retryAfter: 30,
  });

export type AcceptResult = { created: true; document: DocumentRow; job: JobRow } | { created: false; document: DocumentRow; job: JobRow | undefined };

/**
 * Accepts a document: one transaction writes the document, its bytes and the durable job, and
 * commits only once the job is queued. The same content again in the same collection returns
 * the existing document.
 */
export async function acceptDocument(deps: Deps, tenantId: string, collectionId: string, input: DocumentInput): Promise<AcceptResult> {
  const collection = await getCollection(deps, tenantId, collectionId);
  if (collection.reembed_job_id) throw busyReembedding();
  if (collection.restore_job_id) throw busyRestoring();
  assertSupportedType(input.mimeType);
  const sha256 = createHash("sha256").update(input.content).digest("hex");
  const existing = await deps.documents.findBySha(tenantId, collectionId, sha256);
  if (existing) return { created: false, document: existing, job: await deps.jobs.latestFor(existing.id) };

  const documentId = randomUUID();
  const accepted = await acceptWork(deps, async (tx) => {
    // Holds off a re-embed or a deletion of the collection until this document is committed.
    const state = await tx.collections.lockForUpload(collectionId);
    if (state === "gone") throw notFound("collection");
    if (state === "reembedding") throw busyReembedding();
    if (state === "restoring") throw busyRestoring();
    const admitted = await admitToTenantQueue(deps.config, tx, { tenantId, collectionId, sha256, sizeBytes: input.content.length });
    if (admitted === "duplicate") return null;
    const document = await tx.documents.insertWithSource(
      {
        id: documentId,
        tenantId,
        collectionId,
        title: input.title ?? null,
        mimeType: input.mimeType,
        sizeBytes: input.content.length,
        sha256,
        metadata: input.metadata ?? {},
        externalId: input.externalId ?? null,
        callbackUrl: input.callbackUrl ?? null,
      },
      input.content,
    );
    if (!document) return null;
    const job = await recordJob(deps, tx, {
      name: "ingest_document",
      tenantId,
      payload: { tenant_id: tenantId, collection_id: collectionId, document_id: documentId },
      resource: { type: "document", id: documentId },
      callbackUrl: input.callbackUrl,
    });
    return { document, job };
  });
  if (!accepted) {
    // Lost a race with an identical upload: answer with the winner.
    const winner = await deps.documents.findBySha(tenantId, collectionId, sha256);
    if (!winner) throw notFound("document");
    return { created: false, document: winner, job: await deps.jobs.latestFor(winner.id) };
  }
  return { created: true, ...accepted };
}

export async function getDocument(deps: Pick<Deps, "documents">, tenantId: string, id: string): Promise<DocumentRow> {
  const row = await deps.documents.get(tenantId, id);
  if (!row) throw notFound("document");
  return row;
}

/** What a step of a job may use of its job: progress reports, and cancellation at its boundaries. */
export interface StepControl {
  progress(percent: number): Promise<void>;
  /** Throws when the job was cancelled (aborted here, or asked to stop in its record). */
  checkpoint(): Promise<void>;
  signal?: AbortSignal;
}

/** Postgres text cannot hold U+0000; documents (PDFs above all) sometimes carry it. It is removed. */
const NUL = "\u0000";

/**
 * The parse step of an ingest job: parse in the sandbox, chunk, store the chunks (the document
 * stays `processing`), and plan the embedding batches that the job fans out to the embed queue.
 */
export async function prepareDocument(
  deps: Deps,
  payload: { tenant_id: string; collection_id: string; document_id: string },
  parentJobId: string,
  step: StepControl,
): Promise<Array<JobPayload<"embed_chunks">>> {
  const document = await deps.documents.findById(payload.document_id);
  const collection = await deps.collections.findById(payload.collection_id);
  if (!document || document.status === "deleting" || !collection || collection.status !== "active") {
    throw permanent("DOCUMENT_GONE", "the document or its collection was deleted before it was ingested");
  }
  const content = await deps.documents.source(document.id);
  if (!content) throw permanent("SOURCE_MISSING", "the document's uploaded bytes are no longer stored; upload it again");

  await deps.documents.markProcessing(document.id);
  const { config } = deps;
  const started = performance.now();
  const parsed = await deps.parser.parse(content, document.mime_type, { size: config.CHUNK_SIZE, overlap: config.CHUNK_OVERLAP }, step.signal);
  await step.checkpoint();
  const chunks = parsed.chunks
    .map((c) => ({ ...c, text: c.text.replaceAll(NUL, ""), heading: c.heading?.replaceAll(NUL, "") ?? null }))
    .filter((c) => c.text.trim().length > 0);
  deps.logger.info(
    { documentId: document.id, mimeType: document.mime_type, pages: parsed.pageCount, chunks: chunks.length, ms: Math.round(performance.now() - started) },
    "document parsed",
  );
  await step.progress(10);
  if (chunks.length === 0) throw permanent("NO_TEXT", "the document contains no extractable text");
  if (parsed.title) await deps.documents.setTitleIfMissing(document.id, parsed.title.replaceAll(NUL, ""));

  await withTransaction(deps.db, async (tx) => {
    await tx.chunks.replace({ id: document.id, tenantId: document.tenant_id, collectionId: collection.id }, chunks);
    await tx.documents.setCounts(document.id, { chunkCount: chunks.length, pageCount: parsed.pageCount });
  });
  await deps.vectorStore.ensureCollection(
    { tenantId: document.tenant_id, collectionId: collection.id, version: collection.vector_version },
    collection.embedding.dimensions,
  );
  // A deletion that ran while this document was parsing has dropped the collection's vectors; the
  // line above must not leave a recreated, orphaned one behind.
  const still = await deps.collections.findById(collection.id);
  if (!still || still.status !== "active") {
    await deps.vectorStore.dropCollection({ tenantId: document.tenant_id, collectionId: collection.id });
    throw permanent("DOCUMENT_GONE", "the document's collection was deleted while it was ingested");
  }
  const plan = planBatches(
    chunks.map((c, i) => ({ document_id: document.id, chunk_index: i, token_count: c.tokenCount })),
    config.EMBED_BATCH_SIZE,
  );
  await deps.jobs.setUnits(parentJobId, chunks.length, 20);
  return batchJobs(plan, {
    tenant_id: document.tenant_id,
    collection_id: collection.id,
    vector_version: collection.vector_version,
    embedding: collection.embedding,
    parent_job_id: parentJobId,
    progress: { base: 20, span: 79 },
  });
}

/**
 * The last step of an ingest job, once every embedding batch is stored: the job's result. The
 * document turns ready in the transaction that ends the job (the definition's `onEnd`).
 */
export async function finalizeDocument(
  deps: Deps,
  payload: { document_id: string },
): Promise<{ document_id: string; chunk_count: number; page_count: number | null }> {
  const document = await deps.documents.findById(payload.document_id);
  if (!document || document.status === "deleting") throw permanent("DOCUMENT_GONE", "the document was deleted while it was ingested");
  return { document_id: document.id, chunk_count: document.chunk_count, page_count: document.page_count };
}

/**
 * Hides the document at once and queues the job that removes its vectors and rows; an ingest
 * still running for it is asked to stop. Nothing is applied unless the job is queued. A document
 * already being deleted is hidden, so asking again answers 404 (no second job, no callback).
 */
export async function requestDocumentDeletion(deps: Deps, tenantId: string, id: string, callbackUrl?: string): Promise<JobRow> {
  const job = await acceptWork(deps, async (tx) => {
    const document = await tx.documents.get(tenantId, id);
    if (!document) throw notFound("document");
    if ((await tx.collections.lockForUpload(document.collection_id)) === "restoring") throw busyRestoring("delete it");
    if (!(await tx.documents.markDeleting(tenantId, id))) throw notFound("document");
    return recordJob(deps, tx, {
      name: "delete_document",
      tenantId,
      payload: { tenant_id: tenantId, collection_id: document.collection_id, document_id: id },
      resource: { type: "document", id },
      callbackUrl,
    });
  });
  await requestCancels(deps, [id], ["ingest_document"], { code: "CANCELLED", message: "its document was deleted" });
  return job;
}

export async function deleteDocument(
  deps: Deps,
  payload: { tenant_id: string; collection_id: string; document_id: string },
): Promise<{ document_id: string }> {
  await removeDocumentVectors(deps, { tenantId: payload.tenant_id, collectionId: payload.collection_id, documentId: payload.document_id });
  await deps.documents.remove(payload.document_id);
  return { document_id: payload.document_id };
}
