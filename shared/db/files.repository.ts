import { listScope, openAiPage, type ListPage, type ListParams } from "./openai-list.ts";
import type { Queryable } from "./queryable.ts";

/** A stored file of the OpenAI-compatible API (without its bytes). */
export interface FileRow {
  id: string;
  tenant_id: string;
  filename: string;
  purpose: string;
  bytes: number;
  sha256: string;
  mime_type: string | null;
  created_at: Date;
  expires_at: Date | null;
}

const COLUMNS = "id, tenant_id, filename, purpose, bytes, sha256, mime_type, created_at, expires_at";
/** A file past its expiry is gone for every reader; the housekeeper deletes its row. */
const LIVE = "(expires_at IS NULL OR expires_at > now())";

export class FilesRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  async insert(file: Omit<FileRow, "created_at">, content: Buffer): Promise<FileRow> {
    const { rows } = await this.q.query<FileRow>(
      `INSERT INTO files (id, tenant_id, filename, purpose, bytes, sha256, mime_type, content, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
      [file.id, file.tenant_id, file.filename, file.purpose, file.bytes, file.sha256, file.mime_type, content, file.expires_at],
    );
    return rows[0]!;
  }

  async get(tenantId: string, id: string): Promise<FileRow | undefined> {
    const { rows } = await this.q.query<FileRow>(`SELECT ${COLUMNS} FROM files WHERE id = $1 AND tenant_id = $2 AND ${LIVE}`, [id, tenantId]);
    return rows[0];
  }

  /** The tenant's files among `ids` (missing and expired ones are left out). */
  async getMany(tenantId: string, ids: readonly string[]): Promise<FileRow[]> {
    const { rows } = await this.q.query<FileRow>(`SELECT ${COLUMNS} FROM files WHERE id = ANY($1::text[]) AND tenant_id = $2 AND ${LIVE}`, [ids, tenantId]);
    return rows;
  }

  async content(tenantId: string, id: string): Promise<Buffer | undefined> {
    const { rows } = await this.q.query<{ content: Buffer }>(`SELECT content FROM files WHERE id = $1 AND tenant_id = $2 AND ${LIVE}`, [id, tenantId]);
    return rows[0]?.content;
  }

  async list(tenantId: string, list: ListParams & { purpose?: string }): Promise<ListPage<FileRow>> {
    return openAiPage<FileRow>(
      this.q,
      {
        columns: COLUMNS,
        from: "files",
        where: `tenant_id = $1 AND ($2::text IS NULL OR purpose = $2) AND ${LIVE}`,
        params: [tenantId, list.purpose ?? null],
        createdAt: "created_at",
        id: "id",
      },
      { from: "files", where: "tenant_id = $1", params: [tenantId], tombstones: listScope.files(tenantId) },
      list,
    );
  }

  /**
   * Share-locks a live file's row for the rest of the transaction (an attachment being recorded);
   * false when it is gone. A deletion, which locks it for update, waits for the attachment to commit.
   */
  async lockShared(tenantId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.q.query(`SELECT 1 FROM files WHERE id = $1 AND tenant_id = $2 AND ${LIVE} FOR SHARE`, [id, tenantId]);
    return rowCount === 1;
  }

  async remove(tenantId: string, id: string): Promise<FileRow | undefined> {
    const { rows } = await this.q.query<FileRow>(`DELETE FROM files WHERE id = $1 AND tenant_id = $2 AND ${LIVE} RETURNING ${COLUMNS}`, [id, tenantId]);
    return rows[0];
  }

  /** Deletes up to `limit` expired files; returns their ids and tenants. */
  async removeExpired(limit: number): Promise<Array<{ id: string; tenant_id: string; created_at: Date }>> {
    const { rows } = await this.q.query<{ id: string; tenant_id: string; created_at: Date }>(
      `DELETE FROM files WHERE id IN (SELECT id FROM files WHERE expires_at <= now() LIMIT $1) RETURNING id, tenant_id, created_at`,
      [limit],
    );
    return rows;
  }
}
