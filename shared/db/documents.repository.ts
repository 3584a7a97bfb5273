import type { DocumentWarning, OcrReport } from "../parsing/document-parser.ts";
import type { Queryable } from "./queryable.ts";
import { keysetPage } from "./cursor.ts";

export type DocumentStatus = "queued" | "processing" | "ready" | "failed" | "deleting";

export interface DocumentRow {
  id: string;
  tenant_id: string;
  collection_id: string;
  title: string | null;
  status: DocumentStatus;
  error_code: string | null;
  error_message: string | null;
  /** Null only for a URL document not fetched yet (as is sha256). */
  mime_type: string | null;
  size_bytes: number;
  sha256: string | null;
  page_count: number | null;
  chunk_count: number;
  metadata: Record<string, unknown>;
  external_id: string | null;
  callback_url: string | null;
  warnings: DocumentWarning[];
  ocr: OcrReport | null;
  /** The URL a document was fetched from (`{url}` ingestion), where it ended up after redirects, and when. */
  source_url: string | null;
  final_url: string | null;
  fetched_at: Date | null;
  /** The file a document was attached from (`/v1/vector_stores/:id/files`): its bytes stay in `files`. */
  file_id: string | null;
  /** Tokens per chunk and overlap, when not the deployment's CHUNK_SIZE / CHUNK_OVERLAP. */
  chunking: { size: number; overlap: number } | null;
  /** When its metadata last changed after it was attached. */
  metadata_updated_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewDocument {
  id: string;
  tenantId: string;
  collectionId: string;
  title: string | null;
  mimeType: string;
  sizeBytes: number;
  sha256: string;
  metadata: Record<string, unknown>;
  externalId: string | null;
  callbackUrl: string | null;
}

export class DocumentsRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  /** Inserts the document and its bytes; returns null when the same content is already in the collection. */
  async insertWithSource(doc: NewDocument, content: Buffer): Promise<DocumentRow | null> {
    const { rows } = await this.q.query<DocumentRow>(
      `INSERT INTO documents (id, tenant_id, collection_id, title, mime_type, size_bytes, sha256, metadata, external_id, callback_url)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (collection_id, sha256) WHERE status <> 'deleting' AND source_url IS NULL AND file_id IS NULL DO NOTHING RETURNING *`,
      [doc.id, doc.tenantId, doc.collectionId, doc.title, doc.mimeType, doc.sizeBytes, doc.sha256, doc.metadata, doc.externalId, doc.callbackUrl],
    );
    if (!rows[0]) return null;
    await this.q.query(`INSERT INTO document_sources (document_id, content) VALUES ($1, $2)`, [doc.id, content]);
    return rows[0];
  }

  /**
   * Inserts a document made from a stored file (its bytes stay in `files`). Returns null when the
   * file is already attached to the collection.
   */
  async insertFromFile(doc: NewDocument & { fileId: string; chunking: { size: number; overlap: number } | null }): Promise<DocumentRow | null> {
    const { rows } = await this.q.query<DocumentRow>(
      `INSERT INTO documents (id, tenant_id, collection_id, title, mime_type, size_bytes, sha256, metadata, external_id, callback_url, file_id, chunking)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (collection_id, file_id) WHERE status <> 'deleting' AND file_id IS NOT NULL DO NOTHING RETURNING *`,
      [doc.id, doc.tenantId, doc.collectionId, doc.title, doc.mimeType, doc.sizeBytes, doc.sha256, doc.metadata, doc.externalId, doc.callbackUrl, doc.fileId, doc.chunking],
    );
    return rows[0] ?? null;
  }

  /**
   * Inserts a document to be fetched from `url` by a worker: no bytes, type or hash yet. Returns
   * null when the collection already has a document from that URL.
   */
  async insertFromUrl(doc: Omit<NewDocument, "mimeType" | "sizeBytes" | "sha256">, url: string): Promise<DocumentRow | null> {
    const { rows } = await this.q.query<DocumentRow>(
      `INSERT INTO documents (id, tenant_id, collection_id, title, mime_type, size_bytes, sha256, metadata, external_id, callback_url, source_url)
       VALUES ($1, $2, $3, $4, NULL, 0, NULL, $5, $6, $7, $8)
       ON CONFLICT (collection_id, source_url) WHERE status <> 'deleting' AND source_url IS NOT NULL DO NOTHING RETURNING *`,
      [doc.id, doc.tenantId, doc.collectionId, doc.title, doc.metadata, doc.externalId, doc.callbackUrl, url],
    );
    return rows[0] ?? null;
  }

  async findByUrl(tenantId: string, collectionId: string, url: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.q.query<DocumentRow>(
      `SELECT * FROM documents WHERE tenant_id = $1 AND collection_id = $2 AND source_url = $3 AND status <> 'deleting'`,
      [tenantId, collectionId, url],
    );
    return rows[0];
  }

  /**
   * Records what a worker fetched for a URL document: its type, size and hash, the URL that
   * answered and when. The bytes are not kept: every ingest of a URL document fetches it again.
   */
  async storeFetched(id: string, fetched: { content: Buffer; mimeType: string; sha256: string; finalUrl: string }): Promise<void> {
    await this.q.query(
      `UPDATE documents SET mime_type = $2, size_bytes = $3, sha256 = $4, final_url = $5, fetched_at = now(), updated_at = now() WHERE id = $1`,
      [id, fetched.mimeType, fetched.content.length, fetched.sha256, fetched.finalUrl],
    );
  }

  /** Locks a visible document's row for the rest of the transaction (two refreshes at once queue one job). */
  async lockForRefresh(id: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.q.query<DocumentRow>(`SELECT * FROM documents WHERE id = $1 AND status <> 'deleting' FOR UPDATE`, [id]);
    return rows[0];
  }

  /** A refresh found new content for a ready document: it is ingested again, and out of search until then. */
  async markRefreshing(id: string): Promise<boolean> {
    const { rowCount } = await this.q.query(`UPDATE documents SET status = 'processing', updated_at = now() WHERE id = $1 AND status = 'ready'`, [id]);
    return rowCount === 1;
  }

  /** A refresh found the same content: only the fetch time changes. */
  async markFetchedUnchanged(id: string, finalUrl: string): Promise<void> {
    await this.q.query(`UPDATE documents SET final_url = $2, fetched_at = now(), updated_at = now() WHERE id = $1`, [id, finalUrl]);
  }

  async findBySha(tenantId: string, collectionId: string, sha256: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.q.query<DocumentRow>(
      `SELECT * FROM documents WHERE tenant_id = $1 AND collection_id = $2 AND sha256 = $3 AND status <> 'deleting' AND source_url IS NULL AND file_id IS NULL`,
      [tenantId, collectionId, sha256],
    );
    return rows[0];
  }

  /** A visible document of the tenant (not one being deleted). */
  async get(tenantId: string, id: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.q.query<DocumentRow>(
      `SELECT d.* FROM documents d JOIN collections c ON c.id = d.collection_id
       WHERE d.id = $1 AND d.tenant_id = $2 AND d.status <> 'deleting' AND c.status = 'active'`,
      [id, tenantId],
    );
    return rows[0];
  }

  async findById(id: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.q.query<DocumentRow>(`SELECT * FROM documents WHERE id = $1`, [id]);
    return rows[0];
  }

  async list(
    collectionId: string,
    options: { status?: DocumentStatus; limit: number; cursor?: string },
  ): Promise<{ rows: DocumentRow[]; nextCursor: string | null }> {
    return keysetPage<DocumentRow>(
      this.q,
      { select: "SELECT * FROM documents", where: "collection_id = $1 AND status <> 'deleting' AND ($2::text IS NULL OR status = $2)", params: [collectionId, options.status ?? null] },
      options.limit,
      options.cursor,
    );
  }

  /** The bytes to ingest: the upload's, or (a document attached from a file) the file's while it exists. */
  async source(id: string): Promise<Buffer | undefined> {
    const { rows } = await this.q.query<{ content: Buffer }>(
      `SELECT s.content FROM document_sources s WHERE s.document_id = $1
       UNION ALL
       SELECT f.content FROM documents d JOIN files f ON f.id = d.file_id AND f.tenant_id = d.tenant_id AND (f.expires_at IS NULL OR f.expires_at > now()) WHERE d.id = $1`,
      [id],
    );
    return rows[0]?.content;
  }

  async markProcessing(id: string): Promise<void> {
    await this.q.query(`UPDATE documents SET status = 'processing', updated_at = now() WHERE id = $1 AND status IN ('queued', 'processing')`, [id]);
  }

  /**
   * Ends ingestion as failed (or cancelled: code `CANCELLED`): no chunks are left behind, the
   * uploaded bytes are kept for a retry. The first failure recorded stays (a document fails once).
   */
  async failIngest(id: string, error: { code: string; message: string }): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `UPDATE documents SET status = 'failed', error_code = $2, error_message = $3, chunk_count = 0, updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'processing')`,
      [id, error.code, error.message],
    );
    if (rowCount !== 1) return false;
    await this.q.query(`DELETE FROM chunks WHERE document_id = $1`, [id]);
    return true;
  }

  /** Records what parsing found; the document stays `processing` until its vectors are stored. */
  async setParsed(id: string, parsed: { chunkCount: number; pageCount: number | null; warnings?: DocumentWarning[]; ocr?: OcrReport | null }): Promise<void> {
    await this.q.query(`UPDATE documents SET chunk_count = $2, page_count = $3, warnings = $4, ocr = $5, updated_at = now() WHERE id = $1`, [
      id,
      parsed.chunkCount,
      parsed.pageCount,
      JSON.stringify(parsed.warnings ?? []),
      parsed.ocr ? JSON.stringify(parsed.ocr) : null,
    ]);
  }

  /** Marks the document ready and drops its source bytes. */
  async markReady(id: string): Promise<void> {
    await this.q.query(
      `UPDATE documents SET status = 'ready', error_code = NULL, error_message = NULL, updated_at = now() WHERE id = $1 AND status IN ('queued', 'processing')`,
      [id],
    );
    await this.q.query(`DELETE FROM document_sources WHERE document_id = $1`, [id]);
  }

  /**
   * A failed document goes back to `queued` for another ingest; false unless it failed and its
   * bytes are kept (its own, or its file's), or can be fetched again from its URL.
   */
  async requeue(id: string): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `UPDATE documents SET status = 'queued', error_code = NULL, error_message = NULL, updated_at = now()
       WHERE id = $1 AND status = 'failed'
         AND (source_url IS NOT NULL OR EXISTS (SELECT 1 FROM document_sources s WHERE s.document_id = documents.id)
              OR EXISTS (SELECT 1 FROM files f WHERE f.id = documents.file_id AND f.tenant_id = documents.tenant_id AND (f.expires_at IS NULL OR f.expires_at > now())))`,
      [id],
    );
    return rowCount === 1;
  }

  /**
   * Ids among `ids` whose vectors must not stay in the store: gone, being deleted, or failed (a
   * failed or cancelled ingest leaves nothing behind).
   */
  async notLive(ids: string[]): Promise<string[]> {
    const { rows } = await this.q.query<{ id: string }>(
      `SELECT k.id FROM unnest($1::uuid[]) AS k(id) LEFT JOIN documents d ON d.id = k.id
       WHERE d.id IS NULL OR d.status IN ('deleting', 'failed')`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  /** Documents of the collection still being ingested. */
  async countDeleting(collectionId: string): Promise<number> {
    const { rows } = await this.q.query<{ count: number }>(`SELECT count(*)::int AS count FROM documents WHERE collection_id = $1 AND status = 'deleting'`, [collectionId]);
    return rows[0]!.count;
  }

  async countInFlight(collectionId: string): Promise<number> {
    const { rows } = await this.q.query<{ count: number }>(`SELECT count(*) FROM documents WHERE collection_id = $1 AND status IN ('queued', 'processing')`, [collectionId]);
    return rows[0]!.count;
  }

  /** The tenant's documents waiting for or in ingestion, and their bytes (the per-tenant queue caps). */
  async queuedTotals(tenantId: string): Promise<{ documents: number; bytes: number }> {
    const { rows } = await this.q.query<{ documents: number; bytes: number }>(
      `SELECT count(*)::int AS documents, coalesce(sum(size_bytes), 0)::bigint AS bytes FROM documents WHERE tenant_id = $1 AND status IN ('queued', 'processing')`,
      [tenantId],
    );
    return rows[0]!;
  }

  async setTitleIfMissing(id: string, title: string): Promise<void> {
    await this.q.query(`UPDATE documents SET title = $2 WHERE id = $1 AND title IS NULL`, [id, title.slice(0, 500)]);
  }

  async markDeleting(tenantId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `UPDATE documents SET status = 'deleting', updated_at = now() WHERE id = $1 AND tenant_id = $2 AND status <> 'deleting'`,
      [id, tenantId],
    );
    return rowCount === 1;
  }

  async remove(id: string): Promise<void> {
    await this.q.query(`DELETE FROM documents WHERE id = $1`, [id]);
  }
}
