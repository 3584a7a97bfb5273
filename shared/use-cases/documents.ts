import { createHash, randomUUID } from "node:crypto";
import { v5 as uuidv5 } from "uuid";
import type { Deps } from "../deps.ts";
import type { DocumentRow } from "../db/documents.repository.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { withTransaction } from "../db/pool.ts";
import { notFound, permanent } from "../errors/app-error.ts";
import { chunkSections } from "../parsing/chunker.ts";
import { parserFor } from "../parsing/parsers.ts";
import { getCollection } from "./collections.ts";
import { dispatchJob, recordJob } from "./jobs.ts";

/** Namespace of vector point ids: uuid v5 of `<document id>:<chunk index>`. */
const POINT_NAMESPACE = "8f0e3c5a-6b1d-4c2e-9a7f-3d5b1e0c9a42";

export function pointId(documentId: string, chunkIndex: number): string {
  return uuidv5(`${documentId}:${chunkIndex}`, POINT_NAMESPACE);
}

export interface DocumentInput {
  content: Buffer;
  mimeType: string;
  title?: string | null;
  metadata?: Record<string, unknown>;
  externalId?: string | null;
  callbackUrl?: string | null;
}

export type AcceptResult = { created: true; document: DocumentRow; job: JobRow } | { created: false; document: DocumentRow; job: JobRow | undefined };

/**
 * Accepts a document: one transaction writes the document, its bytes and the durable job, then
 * the job is enqueued. The same content again in the same collection returns the existing one.
 */
export async function acceptDocument(deps: Deps, tenantId: string, collectionId: string, input: DocumentInput): Promise<AcceptResult> {
  await getCollection(deps, tenantId, collectionId);
  parserFor(input.mimeType);
  const sha256 = createHash("sha256").update(input.content).digest("hex");
  const existing = await deps.documents.findBySha(tenantId, collectionId, sha256);
  if (existing) return { created: false, document: existing, job: await deps.jobs.latestFor(existing.id) };

  const documentId = randomUUID();
  const accepted = await withTransaction(deps.db, async (client) => {
    const document = await deps.documents.insertWithSource(
      client,
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
    const job = await recordJob(deps, client, {
      name: "ingest_document",
      tenantId,
      payload: { tenant_id: tenantId, collection_id: collectionId, document_id: documentId },
      resource: { type: "document", id: documentId },
    });
    return { document, job };
  });
  if (!accepted) {
    // Lost a race with an identical upload: answer with the winner.
    const winner = await deps.documents.findBySha(tenantId, collectionId, sha256);
    if (!winner) throw notFound("document");
    return { created: false, document: winner, job: await deps.jobs.latestFor(winner.id) };
  }
  await dispatchJob(deps, accepted.job, (error) => deps.documents.setStatus(documentId, "failed", error));
  return { created: true, ...accepted };
}

export async function getDocument(deps: Pick<Deps, "documents">, tenantId: string, id: string): Promise<DocumentRow> {
  const row = await deps.documents.get(tenantId, id);
  if (!row) throw notFound("document");
  return row;
}

export interface IngestProgress {
  (percent: number): Promise<void>;
}

/**
 * The ingest job: parse, chunk, embed, upsert vectors, then write chunks and mark the document
 * ready in one transaction. Point ids are derived, so a retry overwrites instead of duplicating.
 */
export async function ingestDocument(
  deps: Deps,
  payload: { tenant_id: string; collection_id: string; document_id: string },
  progress: IngestProgress,
): Promise<{ document_id: string; chunk_count: number; page_count: number | null }> {
  const document = await deps.documents.findById(payload.document_id);
  const collection = await deps.collections.findById(payload.collection_id);
  if (!document || document.status === "deleting" || !collection || collection.status !== "active") {
    throw permanent("DOCUMENT_GONE", "the document or its collection was deleted before it was ingested");
  }
  const content = await deps.documents.source(document.id);
  if (!content) throw permanent("SOURCE_MISSING", "the document's uploaded bytes are no longer stored; upload it again");

  await deps.documents.setStatus(document.id, "processing");
  const parsed = await parserFor(document.mime_type).parse(content);
  await progress(10);
  const chunks = chunkSections(parsed.sections, { size: deps.config.CHUNK_SIZE, overlap: deps.config.CHUNK_OVERLAP });
  if (chunks.length === 0) throw permanent("NO_TEXT", "the document contains no extractable text");
  await progress(20);

  const ref = { tenantId: document.tenant_id, collectionId: collection.id };
  const embedder = deps.embedders.for(collection.embedding);
  await deps.vectorStore.ensureCollection(ref, collection.embedding.dimensions);
  // Points of a previous, longer version of this document would otherwise linger.
  await deps.vectorStore.deleteDocument(ref, document.id);
  const batchSize = 64;
  for (let start = 0; start < chunks.length; start += batchSize) {
    const batch = chunks.slice(start, start + batchSize);
    const vectors = await embedder.embed(batch.map((c) => c.text));
    await deps.vectorStore.upsert(
      ref,
      batch.map((_, i) => ({
        id: pointId(document.id, start + i),
        vector: vectors[i]!,
        documentId: document.id,
        chunkIndex: start + i,
        metadata: document.metadata,
      })),
    );
    await progress(20 + Math.round((75 * Math.min(chunks.length, start + batchSize)) / chunks.length));
  }

  await withTransaction(deps.db, async (client) => {
    await deps.chunks.replace(client, { id: document.id, tenantId: document.tenant_id, collectionId: collection.id }, chunks);
    await deps.documents.markReady(client, document.id, { chunkCount: chunks.length, pageCount: parsed.pageCount });
  });
  return { document_id: document.id, chunk_count: chunks.length, page_count: parsed.pageCount };
}

/** Hides the document at once and queues the job that removes its vectors and rows. */
export async function requestDocumentDeletion(deps: Deps, tenantId: string, id: string): Promise<JobRow> {
  const job = await withTransaction(deps.db, async (client) => {
    const document = await deps.documents.get(tenantId, id, client);
    if (!document || !(await deps.documents.markDeleting(tenantId, id, client))) throw notFound("document");
    return recordJob(deps, client, {
      name: "delete_document",
      tenantId,
      payload: { tenant_id: tenantId, collection_id: document.collection_id, document_id: id },
      resource: { type: "document", id },
    });
  });
  await dispatchJob(deps, job);
  return job;
}

export async function deleteDocument(
  deps: Deps,
  payload: { tenant_id: string; collection_id: string; document_id: string },
): Promise<{ document_id: string }> {
  await deps.vectorStore.deleteDocument({ tenantId: payload.tenant_id, collectionId: payload.collection_id }, payload.document_id);
  await deps.documents.remove(payload.document_id);
  return { document_id: payload.document_id };
}
