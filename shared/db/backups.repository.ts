import type { JobError } from "./jobs.repository.ts";
import type { Queryable } from "./queryable.ts";

export type BackupTrigger = "scheduled" | "manual";
export type BackupRowStatus = "running" | "succeeded" | "failed";

/** One collection of a backup, as listed. */
export interface BackupCollectionSummary {
  id: string;
  tenant_id: string;
  name: string;
  documents: number;
  chunks: number;
  points: number;
}

export interface BackupRow {
  id: string;
  trigger: BackupTrigger;
  status: BackupRowStatus;
  job_id: string;
  collection_ids: string[] | null;
  size_bytes: number | null;
  checksum: string | null;
  collections: BackupCollectionSummary[] | null;
  error: JobError | null;
  created_at: Date;
  finished_at: Date | null;
}

const SELECT = `SELECT id, trigger, status, job_id, collection_ids, size_bytes::float8 AS size_bytes, checksum, collections, error, created_at, finished_at FROM backups`;

/** The backups this installation took or is taking (see the migration for what storage holds instead). */
export class BackupsRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  /** False when a backup with this id is already recorded (a scheduler tick delivered twice). */
  async insert(row: { id: string; trigger: BackupTrigger; jobId: string; collectionIds?: string[] }): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `INSERT INTO backups (id, trigger, job_id, collection_ids) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
      [row.id, row.trigger, row.jobId, row.collectionIds ?? null],
    );
    return rowCount === 1;
  }

  async get(id: string): Promise<BackupRow | undefined> {
    const { rows } = await this.q.query<BackupRow>(`${SELECT} WHERE id = $1`, [id]);
    return rows[0];
  }

  async list(limit = 1000): Promise<BackupRow[]> {
    const { rows } = await this.q.query<BackupRow>(`${SELECT} ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
    return rows;
  }

  async running(): Promise<BackupRow[]> {
    const { rows } = await this.q.query<BackupRow>(`${SELECT} WHERE status = 'running' ORDER BY created_at`);
    return rows;
  }

  /** Records how the backup's job ended (from inside the transaction that ends it). */
  async finish(id: string, outcome: { status: "succeeded" | "failed"; sizeBytes?: number; checksum?: string; collections?: BackupCollectionSummary[]; error?: JobError | null }): Promise<void> {
    await this.q.query(
      `UPDATE backups SET status = $2, size_bytes = $3, checksum = $4, collections = $5::jsonb, error = $6::jsonb, finished_at = now()
       WHERE id = $1 AND status = 'running'`,
      [id, outcome.status, outcome.sizeBytes ?? null, outcome.checksum ?? null, outcome.collections ? JSON.stringify(outcome.collections) : null, outcome.error ? JSON.stringify(outcome.error) : null],
    );
  }

  /** A retried backup job runs again. */
  async restart(id: string): Promise<void> {
    await this.q.query(`UPDATE backups SET status = 'running', error = NULL, finished_at = NULL WHERE id = $1`, [id]);
  }

  async remove(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.q.query(`DELETE FROM backups WHERE id = ANY($1::text[])`, [ids]);
  }

  /** For alerts and metrics: when a backup last succeeded, and how many failed since then and ever. */
  async health(): Promise<{ lastSuccessAt: Date | null; failuresSinceSuccess: number; failuresTotal: number }> {
    const { rows } = await this.q.query<{ last: Date | null; since: number; total: number }>(
      `SELECT max(finished_at) FILTER (WHERE status = 'succeeded') AS last,
              count(*) FILTER (WHERE status = 'failed' AND finished_at > coalesce((SELECT max(finished_at) FROM backups WHERE status = 'succeeded'), '-infinity'))::int AS since,
              count(*) FILTER (WHERE status = 'failed')::int AS total
       FROM backups`,
    );
    return { lastSuccessAt: rows[0]?.last ?? null, failuresSinceSuccess: rows[0]?.since ?? 0, failuresTotal: rows[0]?.total ?? 0 };
  }
}
