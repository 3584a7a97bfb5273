import type { Config } from "../config/env.ts";
import type { Transaction } from "../db/transaction.ts";
import { AppError } from "../errors/app-error.ts";

/** Seconds a refused upload is told to wait: the tenant's queue drains as its documents are ingested. */
const QUEUE_FULL_RETRY_AFTER = 30;

/**
 * Per-tenant caps on the work waiting for workers (`TENANT_MAX_QUEUED_DOCUMENTS`,
 * `TENANT_MAX_QUEUED_BYTES`; 0 = no cap), so one tenant cannot fill the queue. Runs inside the
 * transaction that accepts a document, before the document is inserted. A transaction-scoped
 * advisory lock per tenant (held until that transaction commits or rolls back) makes the tenant's
 * uploads count one after another, so two concurrent uploads cannot both slip past the cap; other
 * tenants do not wait. `"duplicate"`: the same content reached the collection while this upload
 * waited for the lock — the caller answers with that document, which is not counted again.
 *
 * Refusals are retryable (a workflow's ingest step tries again later): 429 `TENANT_QUEUE_FULL` and
 * `TENANT_QUEUE_BYTES_FULL` with Retry-After, except a document larger than the whole bytes cap,
 * which could never be accepted: 413 `TENANT_QUEUE_BYTES_FULL`, not retryable.
 */
export async function admitToTenantQueue(
  config: Pick<Config, "TENANT_MAX_QUEUED_DOCUMENTS" | "TENANT_MAX_QUEUED_BYTES">,
  tx: Transaction,
  /** `sha256` is null for a URL document, whose content is not known yet. */
  upload: { tenantId: string; collectionId: string; sha256: string | null; sizeBytes: number },
): Promise<"admitted" | "duplicate"> {
  const maxDocuments = config.TENANT_MAX_QUEUED_DOCUMENTS;
  const maxBytes = config.TENANT_MAX_QUEUED_BYTES;
  if (maxDocuments === 0 && maxBytes === 0) return "admitted";
  if (maxBytes > 0 && upload.sizeBytes > maxBytes) {
    throw new AppError("TENANT_QUEUE_BYTES_FULL", `the document is ${upload.sizeBytes} bytes, more than a tenant may have queued at once (TENANT_MAX_QUEUED_BYTES, ${maxBytes})`, {
      httpStatus: 413,
      details: { size_bytes: upload.sizeBytes, max_queued_bytes: maxBytes },
    });
  }
  await tx.client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 2))", [`tenant-queue:${upload.tenantId}`]);
  if (upload.sha256 !== null && (await tx.documents.findBySha(upload.tenantId, upload.collectionId, upload.sha256))) return "duplicate";
  const queued = await tx.documents.queuedTotals(upload.tenantId);
  if (maxDocuments > 0 && queued.documents >= maxDocuments) {
    throw new AppError("TENANT_QUEUE_FULL", `the tenant already has ${queued.documents} documents waiting to be ingested (at most ${maxDocuments}); upload again once some are ready`, {
      httpStatus: 429,
      retryable: true,
      retryAfter: QUEUE_FULL_RETRY_AFTER,
      details: { queued_documents: queued.documents, max_queued_documents: maxDocuments },
    });
  }
  if (maxBytes > 0 && queued.bytes + upload.sizeBytes > maxBytes) {
    throw new AppError(
      "TENANT_QUEUE_BYTES_FULL",
      `the tenant's documents waiting to be ingested hold ${queued.bytes} bytes; ${upload.sizeBytes} more would pass ${maxBytes}; upload again once some are ready`,
      {
        httpStatus: 429,
        retryable: true,
        retryAfter: QUEUE_FULL_RETRY_AFTER,
        details: { queued_bytes: queued.bytes, size_bytes: upload.sizeBytes, max_queued_bytes: maxBytes },
      },
    );
  }
  return "admitted";
}
