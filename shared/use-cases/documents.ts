import { createHash, randomUUID } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { DocumentRow } from "../db/documents.repository.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { withTransaction, type Transaction } from "../db/transaction.ts";
import { AppError, notFound, permanent } from "../errors/app-error.ts";
import { isOutboundRefused } from "../outbound/outbound-guard.ts";
import type { JobPayload } from "../jobs/index.ts";
import { getCollection } from "./collections.ts";
import { batchJobs, planBatches } from "./embed-chunks.ts";
import { acceptWork, recordJob } from "./jobs.ts";
import { requestCancels } from "./cancel-job.ts";
import { admitToTenantQueue } from "./tenant-queue-caps.ts";
import { fetchDocumentUrl } from "./fetch-url.ts";
import { assertIngestible } from "./ingestible.ts";
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

/** `created`: a new document and its job (202); `refreshed`: a new job for an existing URL document (202); else the existing document (200). */
export type AcceptResult =
  | { created: true; document: DocumentRow; job: JobRow }
  | { created: false; refreshed: true; document: DocumentRow; job: JobRow }
  | { created: false; refreshed?: undefined; document: DocumentRow; job: JobRow | undefined };

/**
 * Accepts a document: one transaction writes the document, its bytes and the durable job, and
 * commits only once the job is queued. The same content again in the same collection returns
 * the existing document.
 */
export async function acceptDocument(deps: Deps, tenantId: string, collectionId: string, input: DocumentInput): Promise<AcceptResult> {
  const collection = await getCollection(deps, tenantId, collectionId);
  if (collection.reembed_job_id) throw busyReembedding();
  if (collection.restore_job_id) throw busyRestoring();
  assertIngestible(deps.config, input.mimeType);
  const sha256 = createHash("sha256").update(input.content).digest("hex");
  const existing = await deps.documents.findBySha(tenantId, collectionId, sha256);
  if (existing) return { created: false, document: existing, job: await deps.jobs.latestFor(existing.id) };

  const documentId = randomUUID();
  const accepted = await acceptWork(deps, (tx) =>
    insertAndQueue(deps, tx, { tenantId, collectionId, documentId, callbackUrl: input.callbackUrl }, { sha256, sizeBytes: input.content.length }, () =>
      tx.documents.insertWithSource(
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
      ),
    ),
  );
  if (!accepted) {
    // Lost a race with an identical upload: answer with the winner.
    const winner = await deps.documents.findBySha(tenantId, collectionId, sha256);
    if (!winner) throw notFound("document");
    return { created: false, document: winner, job: await deps.jobs.latestFor(winner.id) };
  }
  return { created: true, ...accepted };
}

export interface UrlDocumentInput {
  url: string;
  title?: string | null;
  metadata?: Record<string, unknown>;
  externalId?: string | null;
  callbackUrl?: string | null;
  /** Fetch a URL the collection already holds again, and re-ingest it if its content changed. */
  refresh?: boolean;
}

/**
 * Accepts a document to be fetched from a URL by a worker. The URL is checked now only as far as
 * it can be without a network call (scheme, credentials, literal addresses: 400 URL_REFUSED); the
 * worker's fetch goes through the outbound guard, which checks every address it connects to.
 *
 * The same URL again in the same collection answers the existing document (200), or with
 * `refresh: true` queues a job that fetches it again (202) — unless one is already fetching or
 * ingesting it, which is answered instead (200).
 */
export async function acceptUrlDocument(deps: Deps, tenantId: string, collectionId: string, input: UrlDocumentInput): Promise<AcceptResult> {
  const collection = await getCollection(deps, tenantId, collectionId);
  if (collection.reembed_job_id) throw busyReembedding();
  if (collection.restore_job_id) throw busyRestoring();
  try {
    deps.outbound.checkUrlOffline(input.url);
  } catch (err) {
    if (!isOutboundRefused(err)) throw err;
    throw new AppError("URL_REFUSED", `url: ${err.message}`, { httpStatus: 400, details: [{ field: "url", message: err.code }] });
  }
  const existing = await deps.documents.findByUrl(tenantId, collectionId, input.url);
  if (existing) return input.refresh ? refreshUrlDocument(deps, existing, input.callbackUrl ?? undefined) : answerExisting(deps, existing);

  const documentId = randomUUID();
  // Its size is unknown until it is fetched: it counts as a document, not yet as bytes.
  const accepted = await acceptWork(deps, (tx) =>
    insertAndQueue(deps, tx, { tenantId, collectionId, documentId, callbackUrl: input.callbackUrl }, { sha256: null, sizeBytes: 0 }, () =>
      tx.documents.insertFromUrl(
        {
          id: documentId,
          tenantId,
          collectionId,
          title: input.title ?? null,
          metadata: input.metadata ?? {},
          externalId: input.externalId ?? null,
          callbackUrl: input.callbackUrl ?? null,
        },
        input.url,
      ),
    ),
  );
  if (accepted) return { created: true, ...accepted };
  // Lost a race with the same URL posted at the same moment: answer with the winner.
  const winner = await deps.documents.findByUrl(tenantId, collectionId, input.url);
  if (!winner) throw notFound("document");
  return answerExisting(deps, winner);
}

async function answerExisting(deps: Deps, document: DocumentRow): Promise<AcceptResult> {
  return { created: false, document, job: await deps.jobs.latestFor(document.id) };
}

/** Queues a refresh of a URL document that is ready or failed; one already in flight is answered instead. */
async function refreshUrlDocument(deps: Deps, document: DocumentRow, callbackUrl: string | undefined): Promise<AcceptResult> {
  const queued = await acceptWork(deps, async (tx) => {
    await lockOpenCollection(tx, document.collection_id);
    const current = await tx.documents.lockForRefresh(document.id);
    if (!current) throw notFound("document");
    const latest = await tx.jobs.latestFor(document.id);
    if (current.status === "queued" || current.status === "processing" || (latest && (latest.status === "queued" || latest.status === "running"))) return null;
    // A refresh is a document in flight for the tenant's queue caps, as a new URL is.
    await admitToTenantQueue(deps.config, tx, { tenantId: document.tenant_id, collectionId: document.collection_id, sha256: null, sizeBytes: 0 });
    if (current.status === "failed" && !(await tx.documents.requeue(document.id))) throw notFound("document");
    const job = await recordJob(deps, tx, {
      name: "ingest_document",
      tenantId: document.tenant_id,
      payload: { tenant_id: document.tenant_id, collection_id: document.collection_id, document_id: document.id, refresh: true },
      resource: { type: "document", id: document.id },
      callbackUrl,
    });
    return { document: (await tx.documents.findById(document.id))!, job };
  });
  if (!queued) return answerExisting(deps, (await deps.documents.findById(document.id)) ?? document);
  return { created: false, refreshed: true, ...queued };
}

/** Holds off a re-embed, a restore or a deletion of the collection until the transaction commits; refuses while one runs. */
export async function lockOpenCollection(tx: Transaction, collectionId: string): Promise<void> {
  const state = await tx.collections.lockForUpload(collectionId);
  if (state === "gone") throw notFound("collection");
  if (state === "reembedding") throw busyReembedding();
  if (state === "restoring") throw busyRestoring();
}

/**
 * Inside the accepting transaction: holds off a re-embed, a restore or a deletion of the collection
 * until the document is committed, admits it to the tenant's queue, inserts it with `insert`, and
 * records its ingest job. Null when the same document is already there (the caller answers with it).
 */
export async function insertAndQueue(
  deps: Deps,
  tx: Transaction,
  target: { tenantId: string; collectionId: string; documentId: string; callbackUrl?: string | null },
  size: { sha256: string | null; sizeBytes: number },
  insert: () => Promise<DocumentRow | null>,
): Promise<{ document: DocumentRow; job: JobRow } | null> {
  const { tenantId, collectionId, documentId } = target;
  await lockOpenCollection(tx, collectionId);
  if ((await admitToTenantQueue(deps.config, tx, { tenantId, collectionId, ...size })) === "duplicate") return null;
  const document = await insert();
  if (!document) return null;
  const job = await recordJob(deps, tx, {
    name: "ingest_document",
    tenantId,
    payload: { tenant_id: tenantId, collection_id: collectionId, document_id: documentId },
    resource: { type: "document", id: documentId },
    callbackUrl: target.callbackUrl,
  });
  return { document, job };
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
 * The parse step of an ingest job: (for a URL document, fetch it first), parse in the sandbox,
 * chunk, store the chunks (the document stays `processing`), and plan the embedding batches that
 * the job fans out to the embed queue. A refresh whose fetch finds the content already ingested
 * answers "unchanged" and leaves the document as it is.
 */
export async function prepareDocument(
  deps: Deps,
  payload: { tenant_id: string; collection_id: string; document_id: string; refresh?: boolean },
  parentJobId: string,
  step: StepControl,
): Promise<Array<JobPayload<"embed_chunks">> | "unchanged"> {
  const document = await deps.documents.findById(payload.document_id);
  const collection = await deps.collections.findById(payload.collection_id);
  if (!document || document.status === "deleting" || !collection || collection.status !== "active") {
    throw permanent("DOCUMENT_GONE", "the document or its collection was deleted before it was ingested");
  }
  let content: Buffer | undefined;
  let mimeType = document.mime_type;
  if (!document.source_url) content = await deps.documents.source(document.id);
  else {
    // A URL document is fetched by every run of its parse step: the first, a refresh, and a retry
    // (the page may have been fixed since it failed).
    await deps.documents.markProcessing(document.id);
    const fetched = await fetchDocumentUrl(deps, document.source_url, step.signal);
    await step.checkpoint();
    if (document.status === "ready" && fetched.sha256 === document.sha256) {
      // A refresh that found what is already ingested: nothing else to do.
      await deps.documents.markFetchedUnchanged(document.id, fetched.finalUrl);
      return "unchanged";
    }
    // What was fetched, and (new content for a ready document) its leaving search until the new
    // content is in, commit together, under the collection's upload lock: a retry after a crash
    // between them must not take the new hash for content already ingested, and a re-embed or a
    // restore that started since the refresh was accepted makes this fetch try again later.
    const refreshing = await withTransaction(deps.db, async (tx) => {
      const state = await tx.collections.lockForUpload(collection.id);
      if (state === "gone") throw permanent("DOCUMENT_GONE", "the document's collection was deleted while it was fetched");
      if (state !== "open") {
        throw new AppError("COLLECTION_BUSY", `the collection is being ${state === "reembedding" ? "re-embedded" : "restored"}; the fetched content is ingested on a later attempt`, {
          httpStatus: 409,
          retryable: true,
        });
      }
      await tx.documents.storeFetched(document.id, fetched);
      return tx.documents.markRefreshing(document.id);
    });
    if (refreshing) await removeDocumentVectors(deps, { tenantId: document.tenant_id, collectionId: collection.id, documentId: document.id });
    content = fetched.content;
    mimeType = fetched.mimeType;
  }
  if (!content || !mimeType) {
    throw permanent("SOURCE_MISSING", document.file_id ? `its file ${document.file_id} was deleted or has expired` : "the document's uploaded bytes are no longer stored; upload it again");
  }

  await deps.documents.markProcessing(document.id);
  const { config } = deps;
  const started = performance.now();
  const parsed = await deps.parser.parse(content, mimeType, document.chunking ?? { size: config.CHUNK_SIZE, overlap: config.CHUNK_OVERLAP }, step.signal);
  await step.checkpoint();
  const chunks = parsed.chunks
    .map((c) => ({ ...c, text: c.text.replaceAll(NUL, ""), heading: c.heading?.replaceAll(NUL, "") ?? null }))
    .filter((c) => c.text.trim().length > 0);
  deps.logger.info(
    { documentId: document.id, mimeType, pages: parsed.pageCount, chunks: chunks.length, ocrPages: parsed.ocr?.pages.length, ms: Math.round(performance.now() - started) },
    "document parsed",
  );
  await step.progress(10);
  if (chunks.length === 0) throw permanent("NO_TEXT", "the document contains no extractable text");
  if (parsed.title) await deps.documents.setTitleIfMissing(document.id, parsed.title.replaceAll(NUL, ""));

  await withTransaction(deps.db, async (tx) => {
    await tx.chunks.replace({ id: document.id, tenantId: document.tenant_id, collectionId: collection.id }, chunks);
    await tx.documents.setParsed(document.id, { chunkCount: chunks.length, pageCount: parsed.pageCount, warnings: parsed.warnings, ocr: parsed.ocr });
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
  if (document.metadata_updated_at) {
    // Its metadata (a vector store file's attributes) changed after it was attached: a batch
    // embedded before the change may have written the old metadata over the new.
    const collection = await deps.collections.findById(document.collection_id);
    if (collection) {
      await deps.vectorStore.setDocumentMetadata({ tenantId: document.tenant_id, collectionId: collection.id, version: collection.vector_version }, document.id, document.metadata);
    }
  }
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
    return hideForDeletion(deps, tx, document, callbackUrl);
  });
  await requestCancels(deps, [id], ["ingest_document"], { code: "CANCELLED", message: "its document was deleted" });
  return job;
}

/**
 * Inside an accepting transaction: hides a document and records the job that deletes it (409 while
 * its collection is being restored; 404 when it is already being deleted). The caller asks its
 * ingest, if any, to stop once the transaction has committed.
 */
export async function hideForDeletion(deps: Deps, tx: Transaction, document: Pick<DocumentRow, "id" | "tenant_id" | "collection_id">, callbackUrl?: string): Promise<JobRow> {
  if ((await tx.collections.lockForUpload(document.collection_id)) === "restoring") throw busyRestoring("delete it");
  if (!(await tx.documents.markDeleting(document.tenant_id, document.id))) throw notFound("document");
  return recordDeletion(deps, tx, document, callbackUrl);
}

/**
 * Like hideForDeletion, for a document that goes with something else (its file): one already on
 * its way out (being deleted, detached, or in a collection being deleted) is left to that and
 * answers undefined instead of 404. 409 while its collection is being restored.
 */
export async function hideIfStillThere(deps: Deps, tx: Transaction, document: Pick<DocumentRow, "id" | "tenant_id" | "collection_id">): Promise<JobRow | undefined> {
  let state = await tx.collections.lockForUpload(document.collection_id);
  // An in-place restore replaces the collection's row: a lock that waited for it finds no row, and
  // only a new statement sees the one that replaced it.
  if (state === "gone") state = await tx.collections.lockForUpload(document.collection_id);
  if (state === "restoring") throw busyRestoring("delete it");
  if (state === "gone") return undefined;
  if (!(await tx.documents.markDeleting(document.tenant_id, document.id))) return undefined;
  return recordDeletion(deps, tx, document);
}

function recordDeletion(deps: Deps, tx: Transaction, document: Pick<DocumentRow, "id" | "tenant_id" | "collection_id">, callbackUrl?: string): Promise<JobRow> {
  return recordJob(deps, tx, {
    name: "delete_document",
    tenantId: document.tenant_id,
    payload: { tenant_id: document.tenant_id, collection_id: document.collection_id, document_id: document.id },
    resource: { type: "document", id: document.id },
    callbackUrl,
  });
}

export async function deleteDocument(
  deps: Deps,
  payload: { tenant_id: string; collection_id: string; document_id: string },
): Promise<{ document_id: string }> {
  await removeDocumentVectors(deps, { tenantId: payload.tenant_id, collectionId: payload.collection_id, documentId: payload.document_id });
  await deps.documents.remove(payload.document_id);
  return { document_id: payload.document_id };
}
