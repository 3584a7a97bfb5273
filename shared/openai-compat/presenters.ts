import type { Config } from "../config/env.ts";
import type { DocumentRow } from "../db/documents.repository.ts";
import type { FileRow } from "../db/files.repository.ts";
import { vectorStoreFileStatus, type FileBatchRow, type VectorStoreRow } from "../db/vector-stores.repository.ts";

/** Unix seconds, as OpenAI's objects carry time. */
export const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

export function presentFile(file: FileRow) {
  return {
    id: file.id,
    object: "file" as const,
    bytes: file.bytes,
    created_at: unixSeconds(file.created_at),
    expires_at: file.expires_at ? unixSeconds(file.expires_at) : null,
    filename: file.filename,
    purpose: file.purpose,
    // Stored and ready to attach as soon as the upload answers: parsing happens per vector store.
    status: "processed" as const,
  };
}

export function vectorStoreExpiresAt(store: Pick<VectorStoreRow, "expires_after_days" | "last_active_at">): Date | null {
  return store.expires_after_days === null ? null : new Date(store.last_active_at.getTime() + store.expires_after_days * 86_400_000);
}

export function presentVectorStore(store: VectorStoreRow, now = new Date()) {
  const expiresAt = vectorStoreExpiresAt(store);
  const status: "expired" | "in_progress" | "completed" = expiresAt && expiresAt <= now ? "expired" : store.file_counts.in_progress > 0 ? "in_progress" : "completed";
  return {
    id: store.id,
    object: "vector_store" as const,
    created_at: unixSeconds(store.created_at),
    name: store.name,
    description: store.description,
    usage_bytes: store.usage_bytes,
    file_counts: store.file_counts,
    status,
    expires_after: store.expires_after_days === null ? null : { anchor: "last_active_at" as const, days: store.expires_after_days },
    expires_at: expiresAt ? unixSeconds(expiresAt) : null,
    last_active_at: unixSeconds(store.last_active_at),
    metadata: store.metadata,
  };
}

/** OpenAI's three `last_error` codes, from Quarry's document error codes. */
export function lastErrorCode(code: string): "unsupported_file" | "invalid_file" | "server_error" {
  if (code === "UNSUPPORTED_MEDIA_TYPE") return "unsupported_file";
  if (/^(DOCUMENT_|PDF_|NO_TEXT$|SOURCE_MISSING$|URL_)/.test(code)) return "invalid_file";
  return "server_error";
}

/** The chunking a document was (or will be) cut with, as OpenAI reports it: always `static` with its numbers. */
export function presentChunking(document: Pick<DocumentRow, "chunking">, config: Pick<Config, "CHUNK_SIZE" | "CHUNK_OVERLAP">) {
  const { size, overlap } = document.chunking ?? { size: config.CHUNK_SIZE, overlap: config.CHUNK_OVERLAP };
  return { type: "static" as const, static: { max_chunk_size_tokens: size, chunk_overlap_tokens: overlap } };
}

export function presentVectorStoreFile(document: DocumentRow, vectorStoreId: string, config: Pick<Config, "CHUNK_SIZE" | "CHUNK_OVERLAP">) {
  const status = vectorStoreFileStatus(document);
  return {
    id: document.file_id!,
    object: "vector_store.file" as const,
    created_at: unixSeconds(document.created_at),
    vector_store_id: vectorStoreId,
    status,
    usage_bytes: status === "completed" ? document.size_bytes : 0,
    // Quarry's own code leads the message, so a failure stays specific behind OpenAI's three codes.
    last_error: status === "failed" && document.error_code ? { code: lastErrorCode(document.error_code), message: `${document.error_code}: ${document.error_message ?? ""}` } : null,
    // Only what the attributes schema lets in ever reaches a file's metadata.
    attributes: document.metadata as Record<string, string | number | boolean>,
    chunking_strategy: presentChunking(document, config),
  };
}

export function presentFileBatch(batch: FileBatchRow, vectorStoreId: string) {
  const counts = batch.file_counts;
  let status: "in_progress" | "completed" | "cancelled" | "failed";
  // A cancelled batch stays in_progress until its files have stopped: the SDK's poller knows no `cancelling`.
  if (counts.in_progress > 0) status = "in_progress";
  else if (batch.cancelled_at) status = "cancelled";
  else if (counts.total > 0 && counts.failed + counts.cancelled === counts.total) status = "failed";
  else status = "completed";
  return {
    id: batch.id,
    object: "vector_store.files_batch" as const,
    created_at: unixSeconds(batch.created_at),
    vector_store_id: vectorStoreId,
    status,
    file_counts: counts,
  };
}

/** An OpenAI list page. */
export function presentList<T extends { id: string }>(data: T[], hasMore: boolean) {
  return { object: "list" as const, data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}
