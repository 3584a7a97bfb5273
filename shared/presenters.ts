import type { CollectionRow } from "./db/collections.repository.ts";
import type { DocumentRow } from "./db/documents.repository.ts";
import type { JobRow } from "./db/jobs.repository.ts";
import type { CollectionView } from "./http-schemas/collection.schema.ts";
import type { DocumentView } from "./http-schemas/document.schema.ts";
import type { JobView } from "./http-schemas/job.schema.ts";

/**
 * The API's JSON shapes, built from rows and typed by the response schemas in `http-schemas/`
 * (which `/openapi.json` publishes). Optional fields are left out when empty.
 */

export function presentCollection(row: CollectionRow): CollectionView {
  return {
    id: row.id,
    name: row.name,
    embedding: row.embedding,
    document_count: row.document_count,
    ...(row.pending_embedding ? { reembedding_to: row.pending_embedding } : {}),
    created_at: row.created_at.toISOString(),
  };
}

export function presentDocument(row: DocumentRow): DocumentView {
  return {
    id: row.id,
    collection_id: row.collection_id,
    title: row.title,
    // Every read of a document leaves out those being deleted (documents.repository.ts).
    status: row.status as DocumentView["status"],
    ...(row.error_code ? { error: { code: row.error_code, message: row.error_message ?? "" } } : {}),
    mime_type: row.mime_type,
    size_bytes: row.size_bytes,
    sha256: row.sha256,
    ...(row.page_count !== null ? { page_count: row.page_count } : {}),
    chunk_count: row.chunk_count,
    metadata: row.metadata,
    ...(row.external_id ? { external_id: row.external_id } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function presentJob(row: JobRow): JobView {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    progress: row.progress,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    ...(row.result ? { result: row.result } : {}),
    ...(row.error ? { error: row.error } : {}),
    created_at: row.created_at.toISOString(),
    ...(row.cancel_requested_at ? { cancel_requested_at: row.cancel_requested_at.toISOString() } : {}),
    ...(row.started_at ? { started_at: row.started_at.toISOString() } : {}),
    ...(row.finished_at ? { finished_at: row.finished_at.toISOString() } : {}),
  };
}
