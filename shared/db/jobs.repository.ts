import { keysetPage } from "./cursor.ts";
import type { Queryable } from "./queryable.ts";

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export type EndStatus = Extract<JobStatus, "succeeded" | "failed" | "cancelled">;
export const ENDED_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];

export interface JobError {
  code: string;
  message: string;
}

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
  error: JobError | null;
  resource_type: string | null;
  resource_id: string | null;
  units_done: number;
  units_total: number;
  cancel_requested_at: Date | null;
  /** Why it was asked to stop, when not by the client. */
  cancel_error: JobError | null;
  /** 1, and one more with each retry: each run ends once. */
  run: number;
  /** Where each end of the job is POSTed, signed (when the request gave one). */
  callback_url: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export interface JobEventRow {
  id: number;
  job_id: string;
  type: "progress" | "end";
  job: Record<string, unknown>;
  created_at: Date;
}

/**
 * The durable record of every accepted async request; `GET /v1/jobs/:id` reads it. A job ends
 * only through `endJob` (shared/jobs/end-job.ts), which calls {@link JobsRepository.end}.
 */
export class JobsRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  async insert(job: { id: string; tenantId: string; type: string; maxAttempts: number; payload: object; resource?: { type: string; id: string }; callbackUrl?: string | null }): Promise<JobRow> {
    const { rows } = await this.q.query<JobRow>(
      `INSERT INTO jobs (id, tenant_id, type, max_attempts, payload, resource_type, resource_id, callback_url)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [job.id, job.tenantId, job.type, job.maxAttempts, job.payload, job.resource?.type ?? null, job.resource?.id ?? null, job.callbackUrl ?? null],
    );
    return rows[0]!;
  }

  async get(tenantId: string, id: string): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(`SELECT * FROM jobs WHERE id = $1 AND tenant_id = $2`, [id, tenantId]);
    return rows[0];
  }

  async findById(id: string): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(`SELECT * FROM jobs WHERE id = $1`, [id]);
    return rows[0];
  }

  /** The newest job that acted on a resource (e.g. the ingest job of a document). */
  async latestFor(resourceId: string): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(`SELECT * FROM jobs WHERE resource_id = $1 ORDER BY created_at DESC LIMIT 1`, [resourceId]);
    return rows[0];
  }

  /** Unfinished jobs of the given types acting on any of `resourceIds`. */
  async unfinishedFor(resourceIds: string[], types: readonly string[]): Promise<JobRow[]> {
    const { rows } = await this.q.query<JobRow>(
      `SELECT * FROM jobs WHERE resource_id = ANY($1::uuid[]) AND type = ANY($2::text[]) AND status IN ('queued', 'running')`,
      [resourceIds, types],
    );
    return rows;
  }

  /** Documents of a collection that have an unfinished job (their ingest may still run). */
  async unfinishedResourcesIn(collectionId: string): Promise<string[]> {
    const { rows } = await this.q.query<{ id: string }>(
      `SELECT DISTINCT j.resource_id AS id FROM jobs j JOIN documents d ON d.id = j.resource_id
       WHERE d.collection_id = $1 AND j.status IN ('queued', 'running')`,
      [collectionId],
    );
    return rows.map((r) => r.id);
  }

  async list(
    tenantId: string,
    options: { type?: string; status?: JobStatus; limit: number; cursor?: string },
  ): Promise<{ rows: JobRow[]; nextCursor: string | null }> {
    return keysetPage<JobRow>(
      this.q,
      { select: "SELECT * FROM jobs", where: "tenant_id = $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR status = $3)", params: [tenantId, options.type ?? null, options.status ?? null] },
      options.limit,
      options.cursor,
    );
  }

  /** Moves a queued or running job to running for `attempt`; undefined when it has already ended. */
  async markRunning(id: string, attempt: number): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(
      `UPDATE jobs SET status = 'running', attempts = GREATEST(attempts, $2), started_at = COALESCE(started_at, now()), updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'running') RETURNING *`,
      [id, attempt],
    );
    return rows[0];
  }

  /** Sets the progress; returns the row when it changed (so an event can be written). */
  async setProgress(id: string, progress: number): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(
      `UPDATE jobs SET progress = $2, updated_at = now() WHERE id = $1 AND status = 'running' AND progress IS DISTINCT FROM $2 RETURNING *`,
      [id, Math.max(0, Math.min(100, Math.round(progress)))],
    );
    return rows[0];
  }

  /** Durable jobs of these types still queued or running. */
  async countUnfinished(types: readonly string[]): Promise<number> {
    const { rows } = await this.q.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE status IN ('queued', 'running') AND type = ANY($1::text[])`, [types]);
    return rows[0]!.n;
  }

  /** Moves the progress forward only (steps finishing side by side report out of order). */
  async advanceProgress(id: string, progress: number): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(
      `UPDATE jobs SET progress = $2, updated_at = now() WHERE id = $1 AND status = 'running' AND progress < $2 RETURNING *`,
      [id, Math.max(0, Math.min(100, Math.round(progress)))],
    );
    return rows[0];
  }

  /** Sets how many units (chunks) the job's batches will report, and the progress so far. */
  async setUnits(id: string, total: number, progress: number): Promise<void> {
    await this.q.query(`UPDATE jobs SET units_total = $2, units_done = 0, progress = $3, updated_at = now() WHERE id = $1 AND status = 'running'`, [
      id,
      total,
      progress,
    ]);
  }

  /**
   * A batch finished `n` units: progress = base + span × done / total (kept below 100 until the
   * job ends). Returns the row when the whole-number progress moved.
   */
  async addUnits(id: string, n: number, base: number, span: number): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow & { old_progress: number }>(
      `UPDATE jobs j SET units_done = j.units_done + $2,
         progress = LEAST(99, GREATEST(j.progress, ($3 + $4 * (j.units_done + $2)::float / GREATEST(j.units_total, 1))::int)), updated_at = now()
       FROM (SELECT progress AS old_progress FROM jobs WHERE id = $1 FOR UPDATE) o
       WHERE j.id = $1 AND j.status = 'running' RETURNING j.*, o.old_progress`,
      [id, n, base, span],
    );
    const row = rows[0];
    if (!row || row.progress === row.old_progress) return undefined;
    const { old_progress: _old, ...job } = row;
    return job;
  }

  /**
   * Ends a queued or running job. Returns the ended row only to the one caller that ended it:
   * a concurrent caller waits for the row lock, sees it ended, and gets undefined.
   */
  async end(id: string, outcome: { status: EndStatus; result?: object | null; error?: JobError | null }): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(
      `UPDATE jobs SET status = $2, result = $3, error = $4, progress = CASE WHEN $2 = 'succeeded' THEN 100 ELSE progress END,
         finished_at = now(), updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'running') RETURNING *`,
      [id, outcome.status, outcome.result ?? null, outcome.error ?? null],
    );
    return rows[0];
  }

  /**
   * A failed attempt that will be retried: the job waits, queued, with its last error. Undefined
   * when it must not wait for another attempt (it was asked to stop, or has ended).
   */
  async markRetrying(id: string, error: JobError): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(
      `UPDATE jobs SET status = 'queued', error = $2, updated_at = now() WHERE id = $1 AND status = 'running' AND cancel_requested_at IS NULL RETURNING *`,
      [id, error],
    );
    return rows[0];
  }

  /**
   * Asks the workers to stop the job at their next boundary (`reason`: why, when not the client);
   * undefined when it has ended.
   */
  async requestCancel(id: string, reason?: JobError): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(
      `UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, now()), cancel_error = COALESCE(cancel_error, $2), updated_at = now()
       WHERE id = $1 AND status IN ('queued', 'running') RETURNING *`,
      [id, reason ?? null],
    );
    return rows[0];
  }

  /** What workers check at their boundaries: has the job ended, or been asked to stop? */
  async stopState(id: string): Promise<{ ended: boolean; cancelRequested: boolean }> {
    const { rows } = await this.q.query<{ ended: boolean; cancel_requested: boolean }>(
      `SELECT status NOT IN ('queued', 'running') AS ended, cancel_requested_at IS NOT NULL AS cancel_requested FROM jobs WHERE id = $1`,
      [id],
    );
    const row = rows[0];
    return row ? { ended: row.ended, cancelRequested: row.cancel_requested } : { ended: true, cancelRequested: false };
  }

  /** Whether the job has ended or been asked to stop. */
  async isStopping(id: string): Promise<boolean> {
    const { ended, cancelRequested } = await this.stopState(id);
    return ended || cancelRequested;
  }

  /** Puts an ended job back to `queued` with a fresh budget of attempts; undefined when it is not in `from`. */
  async resetForRetry(tenantId: string, id: string, from: readonly JobStatus[]): Promise<JobRow | undefined> {
    const { rows } = await this.q.query<JobRow>(
      `UPDATE jobs SET status = 'queued', progress = 0, attempts = 0, units_done = 0, units_total = 0, result = NULL, error = NULL,
         cancel_requested_at = NULL, cancel_error = NULL, run = run + 1, started_at = NULL, finished_at = NULL, updated_at = now()
       WHERE id = $1 AND tenant_id = $2 AND status = ANY($3::text[]) RETURNING *`,
      [id, tenantId, from],
    );
    return rows[0];
  }

  /** Jobs that are queued or running in Postgres and have not moved for `olderThanMs`. */
  async findUnfinished(olderThanMs: number, limit = 500): Promise<JobRow[]> {
    const { rows } = await this.q.query<JobRow>(
      `SELECT * FROM jobs WHERE status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
       ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows;
  }

  async touch(id: string): Promise<void> {
    await this.touchMany([id]);
  }

  async touchMany(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.q.query(`UPDATE jobs SET updated_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
  }

  async addEvent(jobId: string, type: JobEventRow["type"], job: object): Promise<void> {
    await this.q.query(`INSERT INTO job_events (job_id, type, job) VALUES ($1, $2, $3)`, [jobId, type, job]);
  }

  async latestEventId(jobId: string): Promise<number> {
    const { rows } = await this.q.query<{ id: number | null }>(`SELECT max(id) AS id FROM job_events WHERE job_id = $1`, [jobId]);
    return rows[0]?.id ?? 0;
  }

  /** Events of a job after `afterId`, oldest first. */
  async eventsAfter(jobId: string, afterId: number, limit = 100): Promise<JobEventRow[]> {
    const { rows } = await this.q.query<JobEventRow>(`SELECT * FROM job_events WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [
      jobId,
      afterId,
      limit,
    ]);
    return rows;
  }
}
