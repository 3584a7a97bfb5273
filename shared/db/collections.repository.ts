import type { Queryable } from "./queryable.ts";
import { keysetPage } from "./cursor.ts";

export interface EmbeddingSpec {
  provider: string;
  model: string;
  dimensions: number;
}

export interface CollectionRow {
  id: string;
  tenant_id: string;
  name: string;
  embedding: EmbeddingSpec;
  status: "active" | "deleting";
  document_count: number;
  vector_version: number;
  reembed_job_id: string | null;
  /** The restore job holding the collection, while one runs in place. */
  restore_job_id: string | null;
  pending_embedding: EmbeddingSpec | null;
  created_at: Date;
  updated_at: Date;
}

const SELECT = `
  SELECT c.*, (SELECT count(*) FROM documents d WHERE d.collection_id = c.id AND d.status <> 'deleting')::int AS document_count
  FROM collections c`;

export class CollectionsRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  /** Returns null when the tenant already has an active collection of that name. */
  async insert(row: { id: string; tenantId: string; name: string; embedding: EmbeddingSpec }): Promise<CollectionRow | null> {
    const { rows } = await this.q.query(
      `INSERT INTO collections (id, tenant_id, name, embedding) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, name) WHERE status = 'active' DO NOTHING RETURNING id`,
      [row.id, row.tenantId, row.name, row.embedding],
    );
    return rows.length ? ((await this.get(row.tenantId, row.id)) ?? null) : null;
  }

  /** An active collection of the tenant, or undefined (unknown, another tenant's, or being deleted). */
  async get(tenantId: string, id: string): Promise<CollectionRow | undefined> {
    const { rows } = await this.q.query<CollectionRow>(`${SELECT} WHERE c.id = $1 AND c.tenant_id = $2 AND c.status = 'active'`, [id, tenantId]);
    return rows[0];
  }

  async list(tenantId: string, limit: number, cursor?: string): Promise<{ rows: CollectionRow[]; nextCursor: string | null }> {
    return keysetPage<CollectionRow>(this.q, { select: SELECT, where: "c.tenant_id = $1 AND c.status = 'active'", params: [tenantId], alias: "c" }, limit, cursor);
  }

  /** Hides the collection and frees its name; the delete job removes it for good. */
  async markDeleting(tenantId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `UPDATE collections SET status = 'deleting', updated_at = now() WHERE id = $1 AND tenant_id = $2 AND status = 'active'`,
      [id, tenantId],
    );
    return rowCount === 1;
  }

  /** Every active collection of every tenant (operations tools only). */
  async listAllActive(): Promise<CollectionRow[]> {
    const { rows } = await this.q.query<CollectionRow>(`${SELECT} WHERE c.status = 'active' ORDER BY c.created_at`);
    return rows;
  }

  /** Any collection by id, whatever its status (workers use it). */
  async findById(id: string): Promise<CollectionRow | undefined> {
    const { rows } = await this.q.query<CollectionRow>(`${SELECT} WHERE c.id = $1`, [id]);
    return rows[0];
  }

  /**
   * Share-locks the collection for an upload transaction and says whether it takes uploads.
   * A re-embed start and a deletion take the row lock, so neither interleaves with an upload.
   */
  async lockForUpload(id: string): Promise<"open" | "gone" | "reembedding" | "restoring"> {
    const { rows } = await this.q.query<{ status: string; reembed_job_id: string | null; restore_job_id: string | null }>(
      `SELECT status, reembed_job_id, restore_job_id FROM collections WHERE id = $1 FOR SHARE`,
      [id],
    );
    const row = rows[0];
    if (!row || row.status !== "active") return "gone";
    if (row.restore_job_id !== null) return "restoring";
    return row.reembed_job_id === null ? "open" : "reembedding";
  }

  /**
   * Holds collections for a restore in place (uploads, re-embeds and deletions of documents then
   * answer 409). Returns the ids it could not hold: gone, being re-embedded, or held by another
   * restore. Holds nothing unless it can hold them all.
   */
  async holdForRestore(ids: string[], jobId: string): Promise<{ held: string[]; busy: Array<{ id: string; reason: "reembedding" | "restoring" }> }> {
    const { rows } = await this.q.query<{ id: string; reembed_job_id: string | null; restore_job_id: string | null }>(
      `SELECT id, reembed_job_id, restore_job_id FROM collections WHERE id = ANY($1::uuid[]) AND status = 'active' ORDER BY id FOR UPDATE`,
      [ids],
    );
    const busy = rows.flatMap((r): Array<{ id: string; reason: "reembedding" | "restoring" }> =>
      r.reembed_job_id ? [{ id: r.id, reason: "reembedding" }] : r.restore_job_id && r.restore_job_id !== jobId ? [{ id: r.id, reason: "restoring" }] : [],
    );
    if (busy.length > 0) return { held: [], busy };
    const held = rows.map((r) => r.id);
    await this.q.query(`UPDATE collections SET restore_job_id = $2 WHERE id = ANY($1::uuid[])`, [held, jobId]);
    return { held, busy };
  }

  /** Lets go of every collection a restore job holds (when it ends, whichever way). */
  async releaseRestore(jobId: string): Promise<void> {
    await this.q.query(`UPDATE collections SET restore_job_id = NULL WHERE restore_job_id = $1`, [jobId]);
  }

  /** Locks the collection row for a re-embed start (waits for uploads in flight to commit). */
  async lockForReembed(id: string): Promise<void> {
    await this.q.query(`SELECT 1 FROM collections WHERE id = $1 FOR UPDATE`, [id]);
  }

  /** Marks a re-embed as running; false when one already is. */
  async startReembed(tenantId: string, id: string, jobId: string, spec: EmbeddingSpec): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `UPDATE collections SET reembed_job_id = $3, pending_embedding = $4, updated_at = now()
       WHERE id = $1 AND tenant_id = $2 AND status = 'active' AND reembed_job_id IS NULL`,
      [id, tenantId, jobId, spec],
    );
    return rowCount === 1;
  }

  /** Switches the collection to the new generation and spec, once: only while `jobId` runs the re-embed. */
  async finishReembed(id: string, jobId: string, spec: EmbeddingSpec, version: number): Promise<void> {
    await this.q.query(
      `UPDATE collections SET embedding = $3, vector_version = $4, reembed_job_id = NULL, pending_embedding = NULL, updated_at = now()
       WHERE id = $1 AND reembed_job_id = $2`,
      [id, jobId, spec, version],
    );
  }

  /** Ends a re-embed without switching; false when `jobId` was not (or no longer) running one. */
  async abandonReembed(id: string, jobId?: string): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `UPDATE collections SET reembed_job_id = NULL, pending_embedding = NULL, updated_at = now()
       WHERE id = $1 AND reembed_job_id IS NOT NULL AND ($2::uuid IS NULL OR reembed_job_id = $2)`,
      [id, jobId ?? null],
    );
    return rowCount === 1;
  }

  /** Removes the collection's row, and the vector store and file batches it backs (if it backs one). */
  async remove(id: string): Promise<void> {
    await this.q.query(
      `WITH batches AS (DELETE FROM vector_store_file_batches WHERE collection_id = $1), stores AS (DELETE FROM vector_stores WHERE collection_id = $1)
       DELETE FROM collections WHERE id = $1`,
      [id],
    );
  }
}
