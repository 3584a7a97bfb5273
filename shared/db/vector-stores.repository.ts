import type { DocumentRow } from "./documents.repository.ts";
import { listScope, openAiPage, type ListPage, type ListParams } from "./openai-list.ts";
import type { Queryable } from "./queryable.ts";

/** How many of a vector store's (or a batch's) files are in each state. */
export interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

export interface VectorStoreRow {
  id: string;
  tenant_id: string;
  collection_id: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  expires_after_days: number | null;
  last_active_at: Date;
  created_at: Date;
  file_counts: FileCounts;
  usage_bytes: number;
}

/** What the routes under a store need of it (no counts: every SDK poll passes through here). */
export type StoreRef = Pick<VectorStoreRow, "id" | "tenant_id" | "collection_id" | "expires_after_days" | "last_active_at">;

export interface FileBatchRow {
  id: string;
  tenant_id: string;
  collection_id: string;
  cancelled_at: Date | null;
  created_at: Date;
  file_counts: FileCounts;
}

/** A vector store file's state, from its document: OpenAI's four, none of them a state the SDK's pollers do not know. */
export type VectorStoreFileStatus = "in_progress" | "completed" | "failed" | "cancelled";

const STATUS_SQL: Record<VectorStoreFileStatus, string> = {
  in_progress: "d.status IN ('queued', 'processing')",
  completed: "d.status = 'ready'",
  failed: "d.status = 'failed' AND d.error_code IS DISTINCT FROM 'CANCELLED'",
  cancelled: "d.status = 'failed' AND d.error_code = 'CANCELLED'",
};

/** file_counts (and usage_bytes: the completed files' bytes) over documents `d` in scope. */
const COUNTS = `json_build_object(
    'in_progress', count(*) FILTER (WHERE ${STATUS_SQL.in_progress}),
    'completed', count(*) FILTER (WHERE ${STATUS_SQL.completed}),
    'failed', count(*) FILTER (WHERE ${STATUS_SQL.failed}),
    'cancelled', count(*) FILTER (WHERE ${STATUS_SQL.cancelled}),
    'total', count(*)) AS file_counts,
  coalesce(sum(d.size_bytes) FILTER (WHERE ${STATUS_SQL.completed}), 0)::bigint AS usage_bytes`;

const STORE_FROM = `vector_stores vs
  JOIN collections c ON c.id = vs.collection_id AND c.status = 'active'
  CROSS JOIN LATERAL (SELECT ${COUNTS} FROM documents d WHERE d.collection_id = vs.collection_id AND d.file_id IS NOT NULL AND d.status <> 'deleting') f`;
const STORE_COLUMNS = "vs.*, f.file_counts, f.usage_bytes";

const BATCH_FROM = `vector_store_file_batches b
  CROSS JOIN LATERAL (SELECT ${COUNTS} FROM vector_store_file_batch_files m JOIN documents d ON d.id = m.document_id AND d.status <> 'deleting' WHERE m.batch_id = b.id) f`;

export class VectorStoresRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  async insert(store: { id: string; tenantId: string; collectionId: string; name: string; description: string | null; metadata: Record<string, string>; expiresAfterDays: number | null }): Promise<void> {
    await this.q.query(
      `INSERT INTO vector_stores (id, tenant_id, collection_id, name, description, metadata, expires_after_days) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [store.id, store.tenantId, store.collectionId, store.name, store.description, store.metadata, store.expiresAfterDays],
    );
  }

  /** A vector store of the tenant whose collection is not being deleted. */
  async get(tenantId: string, id: string): Promise<VectorStoreRow | undefined> {
    const { rows } = await this.q.query<VectorStoreRow>(`SELECT ${STORE_COLUMNS} FROM ${STORE_FROM} WHERE vs.id = $1 AND vs.tenant_id = $2`, [id, tenantId]);
    return rows[0];
  }

  /** As `get`, without the counts. */
  async getRef(tenantId: string, id: string): Promise<StoreRef | undefined> {
    const { rows } = await this.q.query<StoreRef>(
      `SELECT vs.id, vs.tenant_id, vs.collection_id, vs.expires_after_days, vs.last_active_at
       FROM vector_stores vs JOIN collections c ON c.id = vs.collection_id AND c.status = 'active' WHERE vs.id = $1 AND vs.tenant_id = $2`,
      [id, tenantId],
    );
    return rows[0];
  }

  async list(tenantId: string, list: ListParams): Promise<ListPage<VectorStoreRow>> {
    return openAiPage<VectorStoreRow>(
      this.q,
      { columns: STORE_COLUMNS, from: STORE_FROM, where: "vs.tenant_id = $1", params: [tenantId], createdAt: "vs.created_at", id: "vs.id" },
      { from: "vector_stores vs", where: "vs.tenant_id = $1", params: [tenantId], tombstones: listScope.vectorStores(tenantId) },
      list,
    );
  }

  /** Changes what is given (`expiresAfterDays: null` removes the expiry). */
  async update(id: string, changes: { name?: string; metadata?: Record<string, string>; expiresAfterDays?: number | null }): Promise<void> {
    await this.q.query(
      `UPDATE vector_stores SET
         name = CASE WHEN $2::boolean THEN $3 ELSE name END,
         metadata = CASE WHEN $4::boolean THEN $5::jsonb ELSE metadata END,
         expires_after_days = CASE WHEN $6::boolean THEN $7::integer ELSE expires_after_days END
       WHERE id = $1`,
      [id, changes.name !== undefined, changes.name ?? null, changes.metadata !== undefined, changes.metadata ?? null, changes.expiresAfterDays !== undefined, changes.expiresAfterDays ?? null],
    );
  }

  /** Records activity; at most one write a minute, so a busy store's searches do not queue on its row. */
  async touch(id: string): Promise<void> {
    await this.q.query(`UPDATE vector_stores SET last_active_at = now() WHERE id = $1 AND last_active_at < now() - interval '1 minute'`, [id]);
  }

  /** The store's attached (not deleted) documents made from files. */
  async file(collectionId: string, fileId: string): Promise<DocumentRow | undefined> {
    const { rows } = await this.q.query<DocumentRow>(`SELECT * FROM documents WHERE collection_id = $1 AND file_id = $2 AND status <> 'deleting'`, [collectionId, fileId]);
    return rows[0];
  }

  async files(collectionId: string, list: ListParams & { status?: VectorStoreFileStatus; batchId?: string }): Promise<ListPage<DocumentRow>> {
    const batch = list.batchId === undefined ? "" : " AND d.id IN (SELECT document_id FROM vector_store_file_batch_files WHERE batch_id = $2)";
    return openAiPage<DocumentRow>(
      this.q,
      {
        columns: "d.*",
        from: "documents d",
        where: `d.collection_id = $1 AND d.file_id IS NOT NULL AND d.status <> 'deleting'${batch}`,
        narrow: list.status ? STATUS_SQL[list.status] : undefined,
        params: list.batchId === undefined ? [collectionId] : [collectionId, list.batchId],
        createdAt: "d.created_at",
        id: "d.file_id",
      },
      { from: "documents d", where: "d.collection_id = $1 AND d.file_id IS NOT NULL", params: [collectionId], tombstones: listScope.vectorStoreFiles(collectionId) },
      list,
    );
  }

  /**
   * Every attached document made from the file, in any of the tenant's stores, in collection order:
   * a caller locking their collections takes the locks in the order restores take them.
   */
  async documentsOfFile(tenantId: string, fileId: string): Promise<DocumentRow[]> {
    const { rows } = await this.q.query<DocumentRow>(`SELECT * FROM documents WHERE tenant_id = $1 AND file_id = $2 AND status <> 'deleting' ORDER BY collection_id, id`, [tenantId, fileId]);
    return rows;
  }

  /** Ready documents of the collection made from files, with their metadata (for a search's filters). */
  async searchableFiles(collectionId: string): Promise<Array<{ id: string; metadata: Record<string, unknown> }>> {
    const { rows } = await this.q.query<{ id: string; metadata: Record<string, unknown> }>(
      `SELECT id, metadata FROM documents WHERE collection_id = $1 AND file_id IS NOT NULL AND status = 'ready'`,
      [collectionId],
    );
    return rows;
  }

  /** File id and name of each document among `ids`. */
  async fileNames(ids: readonly string[]): Promise<Map<string, { fileId: string; filename: string }>> {
    const { rows } = await this.q.query<{ id: string; file_id: string; filename: string | null }>(
      `SELECT d.id, d.file_id, coalesce(fl.filename, d.title) AS filename FROM documents d LEFT JOIN files fl ON fl.id = d.file_id
       WHERE d.id = ANY($1::uuid[]) AND d.file_id IS NOT NULL`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, { fileId: r.file_id, filename: r.filename ?? "" }]));
  }

  async setAttributes(documentId: string, metadata: Record<string, unknown>): Promise<DocumentRow | undefined> {
    const { rows } = await this.q.query<DocumentRow>(
      `UPDATE documents SET metadata = $2, metadata_updated_at = now(), updated_at = now() WHERE id = $1 AND status <> 'deleting' RETURNING *`,
      [documentId, metadata],
    );
    return rows[0];
  }

  async insertBatch(batch: { id: string; tenantId: string; collectionId: string }, documentIds: readonly string[]): Promise<void> {
    await this.q.query(`INSERT INTO vector_store_file_batches (id, tenant_id, collection_id) VALUES ($1, $2, $3)`, [batch.id, batch.tenantId, batch.collectionId]);
    // Documents removed since they were attached (a delete racing the batch) are left out.
    await this.q.query(`INSERT INTO vector_store_file_batch_files (batch_id, document_id) SELECT $1, id FROM documents WHERE id = ANY($2::uuid[]) ON CONFLICT DO NOTHING`, [
      batch.id,
      documentIds,
    ]);
  }

  async getBatch(tenantId: string, collectionId: string, id: string): Promise<FileBatchRow | undefined> {
    const { rows } = await this.q.query<FileBatchRow>(`SELECT b.*, f.file_counts FROM ${BATCH_FROM} WHERE b.id = $1 AND b.tenant_id = $2 AND b.collection_id = $3`, [
      id,
      tenantId,
      collectionId,
    ]);
    return rows[0];
  }

  /**
   * Marks the batch cancelled (once) if any of its files is still being ingested, and returns
   * those: a batch that has finished stays as it ended.
   */
  async cancelBatch(id: string): Promise<string[]> {
    const { rows } = await this.q.query<{ id: string }>(
      `SELECT d.id FROM vector_store_file_batch_files m JOIN documents d ON d.id = m.document_id WHERE m.batch_id = $1 AND ${STATUS_SQL.in_progress}`,
      [id],
    );
    if (rows.length > 0) await this.q.query(`UPDATE vector_store_file_batches SET cancelled_at = coalesce(cancelled_at, now()) WHERE id = $1`, [id]);
    return rows.map((r) => r.id);
  }
}

/** The OpenAI state of a document made from a file. */
export function vectorStoreFileStatus(document: Pick<DocumentRow, "status" | "error_code">): VectorStoreFileStatus {
  if (document.status === "ready") return "completed";
  if (document.status === "failed") return document.error_code === "CANCELLED" ? "cancelled" : "failed";
  return "in_progress";
}
