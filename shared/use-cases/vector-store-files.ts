import { randomUUID } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { DocumentRow } from "../db/documents.repository.ts";
import type { FileRow } from "../db/files.repository.ts";
import type { FileBatchRow, StoreRef } from "../db/vector-stores.repository.ts";
import { listScope, tombstone } from "../db/openai-list.ts";
import { withTransaction, type Transaction } from "../db/transaction.ts";
import { AppError, notFound } from "../errors/app-error.ts";
import { newFileBatchId } from "../openai-compat/ids.ts";
import { requestCancels } from "./cancel-job.ts";
import { hideForDeletion, insertAndQueue, lockOpenCollection } from "./documents.ts";
import { assertIngestible } from "./ingestible.ts";
import { acceptWork } from "./jobs.ts";
import { fileNotFound } from "./openai-files.ts";

export interface AttachInput {
  fileId: string;
  attributes?: Record<string, string | number | boolean>;
  /** Tokens per chunk and overlap; absent: the deployment's (`auto`). */
  chunking?: { size: number; overlap: number };
}

const vectorStoreFileNotFound = (fileId: string, storeId: string) =>
  new AppError("NOT_FOUND", `No such vector store file: ${fileId} in ${storeId}`, { httpStatus: 404, details: [{ field: "file_id", message: "not found" }] });

/**
 * Attaches a file to a store: a document of the store's collection that reads the file's bytes
 * (not a copy), ingested by the usual `ingest_document` job. A file already attached answers its
 * document. A file Quarry cannot parse is attached `failed` at once (OpenAI's `unsupported_file`),
 * without a job.
 */
export async function attachFile(deps: Deps, store: StoreRef, file: FileRow, input: AttachInput): Promise<{ document: DocumentRow; created: boolean }> {
  const existing = await deps.vectorStores.file(store.collection_id, file.id);
  if (existing) return { document: existing, created: false };
  const mimeType = file.mime_type ?? "application/octet-stream";
  let refusal: AppError | undefined;
  try {
    assertIngestible(deps.config, mimeType);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    refusal = err;
  }
  const documentId = randomUUID();
  const row = {
    id: documentId,
    tenantId: store.tenant_id,
    collectionId: store.collection_id,
    title: file.filename,
    mimeType,
    sizeBytes: file.bytes,
    sha256: file.sha256,
    metadata: input.attributes ?? {},
    externalId: null,
    callbackUrl: null,
    fileId: file.id,
    // `auto` is recorded as the numbers it means today, so the file reports what it was cut with.
    chunking: input.chunking ?? { size: deps.config.CHUNK_SIZE, overlap: deps.config.CHUNK_OVERLAP },
  };
  // The file must still exist when the attachment commits: a deletion between this request's read
  // and its insert would leave the store listing a deleted file.
  const insertIfFileLives = async (tx: Transaction) => {
    if (!(await tx.files.lockShared(store.tenant_id, file.id))) throw fileNotFound(file.id);
    return tx.documents.insertFromFile(row);
  };
  let document: DocumentRow | null;
  if (refusal) {
    const error = refusal;
    document = await withTransaction(deps.db, async (tx) => {
      await lockOpenCollection(tx, store.collection_id);
      const inserted = await insertIfFileLives(tx);
      if (inserted) await tx.documents.failIngest(documentId, { code: error.code, message: error.message });
      return inserted && (await tx.documents.findById(documentId))!;
    });
  } else {
    const accepted = await acceptWork(deps, (tx) =>
      insertAndQueue(deps, tx, { tenantId: store.tenant_id, collectionId: store.collection_id, documentId }, { sha256: null, sizeBytes: file.bytes }, () => insertIfFileLives(tx)),
    );
    document = accepted?.document ?? null;
  }
  await deps.vectorStores.touch(store.id);
  if (document) return { document, created: true };
  // Lost a race with the same file attached at the same moment: answer with the winner.
  const winner = await deps.vectorStores.file(store.collection_id, file.id);
  if (!winner) throw notFound("vector store file");
  return { document: winner, created: false };
}

/**
 * Attaches several files. All are checked first: an unknown id, or more new files than the
 * tenant's queue caps could ever take, attaches none; new files that do not fit the caps now are a
 * 429 before any is attached. (Caps that fill up meanwhile, or an outage, can still stop it part
 * way: a retry attaches the rest and answers the ones attached already.) Returns the documents in order.
 */
export async function attachFiles(deps: Deps, store: StoreRef, inputs: AttachInput[]): Promise<DocumentRow[]> {
  const files = new Map((await deps.files.getMany(store.tenant_id, inputs.map((i) => i.fileId))).map((f) => [f.id, f]));
  const missing = inputs.find((i) => !files.has(i.fileId));
  if (missing) throw fileNotFound(missing.fileId);
  const attached = new Set((await Promise.all(inputs.map((i) => deps.vectorStores.file(store.collection_id, i.fileId)))).filter(Boolean).map((d) => d!.file_id));
  const fresh = [...new Set(inputs.map((i) => i.fileId))].filter((id) => !attached.has(id)).map((id) => files.get(id)!);
  await assertFitsTenantQueue(deps, store.tenant_id, fresh);
  const documents: DocumentRow[] = [];
  for (const input of inputs) documents.push((await attachFile(deps, store, files.get(input.fileId)!, input)).document);
  return documents;
}

/** The queue caps (TENANT_MAX_QUEUED_DOCUMENTS / _BYTES) checked for a whole set of files at once. */
async function assertFitsTenantQueue(deps: Deps, tenantId: string, files: FileRow[]): Promise<void> {
  const maxDocuments = deps.config.TENANT_MAX_QUEUED_DOCUMENTS;
  const maxBytes = deps.config.TENANT_MAX_QUEUED_BYTES;
  if (files.length <= 1 || (maxDocuments === 0 && maxBytes === 0)) return;
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  if ((maxDocuments > 0 && files.length > maxDocuments) || (maxBytes > 0 && bytes > maxBytes)) {
    throw new AppError(
      maxDocuments > 0 && files.length > maxDocuments ? "TENANT_QUEUE_FULL" : "TENANT_QUEUE_BYTES_FULL",
      `the request attaches ${files.length} new files (${bytes} bytes); a tenant may have at most ${maxDocuments || "any number of"} documents and ${maxBytes || "any number of"} bytes waiting for ingestion: send them in smaller batches`,
      { httpStatus: 413, details: { files: files.length, bytes, max_queued_documents: maxDocuments, max_queued_bytes: maxBytes } },
    );
  }
  const queued = await deps.documents.queuedTotals(tenantId);
  if ((maxDocuments > 0 && queued.documents + files.length > maxDocuments) || (maxBytes > 0 && queued.bytes + bytes > maxBytes)) {
    throw new AppError(
      maxDocuments > 0 && queued.documents + files.length > maxDocuments ? "TENANT_QUEUE_FULL" : "TENANT_QUEUE_BYTES_FULL",
      `the tenant has ${queued.documents} documents (${queued.bytes} bytes) waiting for ingestion; ${files.length} more files (${bytes} bytes) would pass its caps; try again once some are ready`,
      { httpStatus: 429, retryable: true, retryAfter: 30, details: { queued_documents: queued.documents, queued_bytes: queued.bytes, files: files.length, bytes } },
    );
  }
}

export async function getVectorStoreFile(deps: Pick<Deps, "vectorStores">, store: StoreRef, fileId: string): Promise<DocumentRow> {
  const document = await deps.vectorStores.file(store.collection_id, fileId);
  if (!document) throw vectorStoreFileNotFound(fileId, store.id);
  return document;
}

/**
 * Replaces a file's attributes: in Postgres (what OpenAI filters read) and on its vectors (what
 * /v1/collections/:id/search filters read). An ingest still running writes them again when it ends.
 */
export async function updateAttributes(deps: Deps, store: StoreRef, fileId: string, attributes: Record<string, unknown>): Promise<DocumentRow> {
  const current = await getVectorStoreFile(deps, store, fileId);
  const updated = await deps.vectorStores.setAttributes(current.id, attributes);
  if (!updated) throw vectorStoreFileNotFound(fileId, store.id);
  const collection = await deps.collections.findById(store.collection_id);
  if (collection) await deps.vectorStore.setDocumentMetadata({ tenantId: store.tenant_id, collectionId: collection.id, version: collection.vector_version }, updated.id, attributes);
  return updated;
}

/** Removes the file from the store (its chunks and vectors, by the deletion job); the file itself stays. */
export async function detachFile(deps: Deps, store: StoreRef, fileId: string): Promise<void> {
  const document = await getVectorStoreFile(deps, store, fileId);
  await acceptWork(deps, async (tx) => {
    await hideForDeletion(deps, tx, document);
    await tombstone(tx.client, listScope.vectorStoreFiles(store.collection_id), [{ id: fileId, created_at: document.created_at }]);
  });
  await requestCancels(deps, [document.id], ["ingest_document"], { code: "CANCELLED", message: "its file was removed from the vector store" });
}

export const fileBatchNotFound = (id: string) =>
  new AppError("NOT_FOUND", `No such vector store file batch: ${id}`, { httpStatus: 404, details: [{ field: "batch_id", message: "not found" }] });

/** Attaches the files and records them as one batch, whose state is computed from theirs. */
export async function createFileBatch(deps: Deps, store: StoreRef, inputs: AttachInput[]): Promise<FileBatchRow> {
  const documents = await attachFiles(deps, store, inputs);
  const id = newFileBatchId();
  await withTransaction(deps.db, (tx) => tx.vectorStores.insertBatch({ id, tenantId: store.tenant_id, collectionId: store.collection_id }, documents.map((d) => d.id)));
  return getFileBatch(deps, store, id);
}

export async function getFileBatch(deps: Pick<Deps, "vectorStores">, store: StoreRef, id: string): Promise<FileBatchRow> {
  const batch = await deps.vectorStores.getBatch(store.tenant_id, store.collection_id, id);
  if (!batch) throw fileBatchNotFound(id);
  return batch;
}

/**
 * Cancels the batch's files still being ingested: queued ones end `cancelled` at once, running ones
 * at their next page or batch boundary. Files that already ended keep their state.
 */
export async function cancelFileBatch(deps: Deps, store: StoreRef, id: string): Promise<FileBatchRow> {
  await getFileBatch(deps, store, id);
  const inFlight = await deps.vectorStores.cancelBatch(id);
  await requestCancels(deps, inFlight, ["ingest_document"], { code: "CANCELLED", message: "its file batch was cancelled" });
  return getFileBatch(deps, store, id);
}
