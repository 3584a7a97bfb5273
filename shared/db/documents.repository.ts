import type { Db, DbClient } from "./pool.ts";
import { decodeCursor, page } from "./cursor.ts";

export type DocumentStatus = "queued" | "processing" | "ready" | "failed" | "deleting";

export interface DocumentRow {
  id: string;
  tenant_id: string;
  collection_id: string;
  title: string | null;
  status: DocumentStatus;
  error_code: string | null;
  error_message: string | null;
  mime_type: string;
  size_bytes: number;
  sha256: string;
  page_count: number | null;
  chunk_count: number;
  metadata: Record<string, unknown>;
  external_id: string | null;
  callback_url: string | null;
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
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Inserts the document and its bytes; returns null when the same content is already in the collection. */
  async insertWithSource(client: DbClient, doc: NewDocument, content: Buffer): Promise<DocumentRow | null> {
    const { rows } = await client.query(
      `INSERT INTO documents (id, tenant_id, collection_id, title, mime_type, size_bytes, sha256, metadata, external_id, callback_url)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (collection_id, sha256) WHERE status <> 'deleting' DO NOTHING RETURNING *`,
      [doc.id, doc.tenantId, doc.collectionId, doc.title, doc.mimeType, doc.sizeBytes, doc.sha256, doc.metadata, doc.externalId, doc.callbackUrl],
    );
    if (!rows[0]) return null;
    await client.query(`INSERT INTO document_sources (document_id, content) VALUES ($1, $2)`, [doc.id, content]);
    return rows[0];
  }

  async findBySha(tenantId: string, collectionId: string, sha256: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.db.query(
      `SELECT * FROM documents WHERE tenant_id = $1 AND collection_id = $2 AND sha256 = $3 AND status <> 'deleting'`,
      [tenantId, collectionId, sha256],
    );
    return rows[0];
  }

  /** A visible document of the tenant (not one being deleted). */
  async get(tenantId: string, id: string, client: DbClient = this.db): Promise<DocumentRow | undefined> {
    const { rows } = await client.query(
      `SELECT d.* FROM documents d JOIN collections c ON c.id = d.collection_id
       WHERE d.id = $1 AND d.tenant_id = $2 AND d.status <> 'deleting' AND c.status = 'active'`,
      [id, tenantId],
    );
    return rows[0];
  }

  async findById(id: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.db.query(`SELECT * FROM documents WHERE id = $1`, [id]);
    return rows[0];
  }

  async list(
    collectionId: string,
    options: { status?: DocumentStatus; limit: number; cursor?: string },
  ): Promise<{ rows: DocumentRow[]; nextCursor: string | null }> {
    const after = decodeCursor(options.cursor);
    const { rows } = await this.db.query(
      `SELECT * FROM documents WHERE collection_id = $1 AND status <> 'deleting'
         AND ($2::text IS NULL OR status = $2)
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $5`,
      [collectionId, options.status ?? null, after?.createdAt ?? null, after?.id ?? null, options.limit + 1],
    );
    return page(rows, options.limit);
  }

  async source(id: string): Promise<Buffer | undefined> {
    const { rows } = await this.db.query(`SELECT content FROM document_sources WHERE document_id = $1`, [id]);
    return rows[0]?.content;
  }

  async markProcessing(id: string): Promise<void> {
    await this.db.query(`UPDATE documents SET status = 'processing', updated_at = now() WHERE id = $1 AND status IN ('queued', 'processing')`, [id]);
  }

  /** Ends ingestion as failed; the first failure recorded stays (a document fails once). */
  async markFailed(id: string, error: { code: string; message: string }): Promise<void> {
    await this.db.query(
      `UPDATE documents SET status = 'failed', error_code = $2, error_message = $3, updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'processing')`,
      [id, error.code, error.message],
    );
  }

  /** Records what parsing found; the document stays `processing` until its vectors are stored. */
  async setCounts(client: DbClient, id: string, counts: { chunkCount: number; pageCount: number | null }): Promise<void> {
    await client.query(`UPDATE documents SET chunk_count = $2, page_count = $3, updated_at = now() WHERE id = $1`, [
      id,
      counts.chunkCount,
      counts.pageCount,
    ]);
  }

  /** Marks the document ready and drops its source bytes. */
  async markReady(id: string): Promise<void> {
    await this.db.query(
      `UPDATE documents SET status = 'ready', error_code = NULL, error_message = NULL, updated_at = now() WHERE id = $1 AND status <> 'deleting'`,
      [id],
    );
    await this.db.query(`DELETE FROM document_sources WHERE document_id = $1`, [id]);
  }

  /** A failed document goes back to `queued` for another ingest; false unless it failed and its bytes are kept. */
  async requeue(client: DbClient, id: string): Promise<boolean> {
    const { rowCount } = await client.query(
      `UPDATE documents SET status = 'queued', error_code = NULL, error_message = NULL, updated_at = now()
       WHERE id = $1 AND status = 'failed' AND EXISTS (SELECT 1 FROM document_sources s WHERE s.document_id = documents.id)`,
      [id],
    );
    return rowCount === 1;
  }

  /** Fails a document whose ingest never started (its job was cancelled). */
  async failQueued(client: DbClient, id: string, error: { code: string; message: string }): Promise<void> {
    await client.query(
      `UPDATE documents SET status = 'failed', error_code = $2, error_message = $3, updated_at = now() WHERE id = $1 AND status = 'queued'`,
      [id, error.code, error.message],
    );
  }

  /** Removes a document that was never accepted (its job could not be queued). */
  async discard(id: string): Promise<void> {
    await this.db.query(`DELETE FROM documents WHERE id = $1 AND status = 'queued'`, [id]);
  }

  /** Ids among `ids` that are gone or being deleted. */
  async missingOrDeleting(ids: string[]): Promise<string[]> {
    const { rows } = await this.db.query(
      `SELECT k.id FROM unnest($1::uuid[]) AS k(id) LEFT JOIN documents d ON d.id = k.id WHERE d.id IS NULL OR d.status = 'deleting'`,
      [ids],
    );
    return rows.map((r: { id: string }) => r.id);
  }

  /** Documents of the collection still being ingested. */
  async countInFlight(collectionId: string, client: DbClient = this.db): Promise<number> {
    const { rows } = await client.query(`SELECT count(*) FROM documents WHERE collection_id = $1 AND status IN ('queued', 'processing')`, [collectionId]);
    return rows[0].count;
  }

  async setTitleIfMissing(id: string, title: string): Promise<void> {
    await this.db.query(`UPDATE documents SET title = $2 WHERE id = $1 AND title IS NULL`, [id, title.slice(0, 500)]);
  }

  async markDeleting(tenantId: string, id: string, client: DbClient = this.db): Promise<boolean> {
    const { rowCount } = await client.query(
      `UPDATE documents SET status = 'deleting', updated_at = now() WHERE id = $1 AND tenant_id = $2 AND status <> 'deleting'`,
      [id, tenantId],
    );
    return rowCount === 1;
  }

  async remove(id: string): Promise<void> {
    await this.db.query(`DELETE FROM documents WHERE id = $1`, [id]);
  }
}
