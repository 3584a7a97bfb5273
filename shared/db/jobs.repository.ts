import type { Db, DbClient } from "./pool.ts";
import { decodeCursor, page } from "./cursor.ts";

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface JobRow {
  id: string;
  tenant_id: string;
  type: string;
  status: JobStatus;
  progress: number;
  attempts: number;
  max_attempts: number;
  payload: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  resource_type: string | null;
  resource_id: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/** The durable record of every accepted async request; `GET /v1/jobs/:id` reads it. */
export class JobsRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async insert(
    client: DbClient,
    job: { id: string; tenantId: string; type: string; maxAttempts: number; payload: object; resource?: { type: string; id: string } },
  ): Promise<JobRow> {
    const { rows } = await client.query(
      `INSERT INTO jobs (id, tenant_id, type, max_attempts, payload, resource_type, resource_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [job.id, job.tenantId, job.type, job.maxAttempts, job.payload, job.resource?.type ?? null, job.resource?.id ?? null],
    );
    return rows[0];
  }

  async get(tenantId: string, id: string): Promise<JobRow | undefined> {
    const { rows } = await this.db.query(`SELECT * FROM jobs WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
    return rows[0];
  }

  async findById(id: string): Promise<JobRow | undefined> {
    const { rows } = await this.db.query(`SELECT * FROM jobs WHERE id = $1`, [id]);
    return rows[0];
  }

  /** The newest job that acted on a resource (e.g. the ingest job of a document). */
  async latestFor(resourceId: string): Promise<JobRow | undefined> {
    const { rows } = await this.db.query(`SELECT * FROM jobs WHERE resource_id = $1 ORDER BY created_at DESC LIMIT 1`, [resourceId]);
    return rows[0];
  }

  async list(
    tenantId: string,
    options: { type?: string; status?: JobStatus; limit: number; cursor?: string },
  ): Promise<{ rows: JobRow[]; nextCursor: string | null }> {
    const after = decodeCursor(options.cursor);
    const { rows } = await this.db.query(
      `SELECT * FROM jobs WHERE tenant_id = $1
         AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR status = $3)
         AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $6`,
      [tenantId, options.type ?? null, options.status ?? null, after?.createdAt ?? null, after?.id ?? null, options.limit + 1],
    );
    return page(rows, options.limit);
  }

  /** Returns false when the job has already ended (e.g. cancelled) and must not run. */
  async markRunning(id: string, attempt: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE jobs SET status = 'running', attempts = GREATEST(attempts, $2), started_at = COALESCE(started_at, now()), updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'running')`,
      [id, attempt],
    );
    return rowCount === 1;
  }

  async setProgress(id: string, progress: number): Promise<void> {
    await this.db.query(`UPDATE jobs SET progress = $2, updated_at = now() WHERE id = $1 AND status = 'running'`, [
      id,
      Math.max(0, Math.min(100, Math.round(progress))),
    ]);
  }

  /** Sets how many units (chunks) the job's batches will report, and the progress so far. */
  async setUnits(id: string, total: number, progress: number): Promise<void> {
    await this.db.query(`UPDATE jobs SET units_total = $2, units_done = 0, progress = $3, updated_at = now() WHERE id = $1 AND status = 'running'`, [
      id,
      total,
      progress,
    ]);
  }

  /** A batch finished `n` units: progress = base + span × done / total (kept below 100 until the job ends). */
  async addUnits(id: string, n: number, base: number, span: number): Promise<void> {
    await this.db.query(
      `UPDATE jobs SET units_done = units_done + $2,
         progress = LEAST(99, GREATEST(progress, ($3 + $4 * (units_done + $2)::float / GREATEST(units_total, 1))::int)), updated_at = now()
       WHERE id = $1 AND status = 'running'`,
      [id, n, base, span],
    );
  }

  /** Ends the job as succeeded, unless it has already ended (a job ends once). */
  async markSucceeded(id: string, result: object): Promise<void> {
    await this.db.query(
      `UPDATE jobs SET status = 'succeeded', progress = 100, result = $2, error = NULL, finished_at = now(), updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'running')`,
      [id, result],
    );
  }

  /**
   * `final` ends the job as failed (unless it has already ended: the first failure recorded is the
   * real one); otherwise a running job goes back to `queued` to wait for its next attempt.
   */
  async markFailed(id: string, error: { code: string; message: string }, final: boolean): Promise<void> {
    await this.db.query(
      final
        ? `UPDATE jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')`
        : `UPDATE jobs SET status = 'queued', error = $2, updated_at = now() WHERE id = $1 AND status = 'running'`,
      [id, error],
    );
  }

  /** Ends a job that has not started as `cancelled`; undefined when it is not queued any more. */
  async cancelQueued(client: DbClient, tenantId: string, id: string): Promise<JobRow | undefined> {
    const { rows } = await client.query(
      `UPDATE jobs SET status = 'cancelled', error = $3, finished_at = now(), updated_at = now()
       WHERE id = $1 AND tenant_id = $2 AND status = 'queued' AND attempts = 0 RETURNING *`,
      [id, tenantId, { code: "CANCELLED", message: "cancelled at the client's request" }],
    );
    return rows[0];
  }

  /** Puts a failed job back to `queued` with a fresh budget of attempts; false when it is not failed. */
  async resetForRetry(client: DbClient, tenantId: string, id: string): Promise<JobRow | undefined> {
    const { rows } = await client.query(
      `UPDATE jobs SET status = 'queued', progress = 0, attempts = 0, units_done = 0, units_total = 0, result = NULL, error = NULL,
         started_at = NULL, finished_at = NULL, updated_at = now()
       WHERE id = $1 AND tenant_id = $2 AND status = 'failed' RETURNING *`,
      [id, tenantId],
    );
    return rows[0];
  }

  /** Jobs that are queued or running in Postgres and have not moved for `olderThanMs`. */
  async findUnfinished(olderThanMs: number, limit = 500): Promise<JobRow[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM jobs WHERE status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
       ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows;
  }

  async touch(client: DbClient, id: string): Promise<void> {
    await client.query(`UPDATE jobs SET updated_at = now() WHERE id = $1`, [id]);
  }
}
