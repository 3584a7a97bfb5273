import type { Queryable } from "./queryable.ts";

/** Topics a job's end can write; consumers are registered per topic (shared/jobs/outbox-relay.ts). */
export type OutboxTopic = "job.ended" | "job.callback";

export interface OutboxRow {
  id: number;
  topic: OutboxTopic;
  job_id: string;
  run: number;
  job_type: string;
  tenant_id: string;
  resource_id: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  last_error: string | null;
  available_at: Date;
  lease: string | null;
  processed_at: Date | null;
  dead_at: Date | null;
  created_at: Date;
}

/** The transactional outbox: side effects written with the change that causes them. */
export class OutboxRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  /** Adds the row; false when this run of the job already wrote this topic (a run ends once). */
  async add(entry: { topic: OutboxTopic; jobId: string; run: number; jobType: string; tenantId: string; resourceId: string | null; payload: object }): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `INSERT INTO outbox (topic, job_id, run, job_type, tenant_id, resource_id, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (topic, job_id, run) DO NOTHING`,
      [entry.topic, entry.jobId, entry.run, entry.jobType, entry.tenantId, entry.resourceId, entry.payload],
    );
    return rowCount === 1;
  }

  /**
   * Leases up to `limit` due rows to the caller for `leaseMs` (one short statement; concurrent
   * claimers skip rows another holds), counting the attempt now — so a handler that kills its
   * process still uses up the row's tries. The rows come due again only if the caller does not mark
   * them in time; their `lease` is what the caller must show to mark them.
   */
  async claim(limit: number, leaseMs = 60_000, jobId?: string): Promise<OutboxRow[]> {
    const { rows } = await this.q.query<OutboxRow>(
      `UPDATE outbox SET available_at = now() + make_interval(secs => $2::double precision / 1000), attempts = attempts + 1, lease = gen_random_uuid()
       WHERE id IN (SELECT id FROM outbox WHERE processed_at IS NULL AND dead_at IS NULL AND available_at <= now()
                      AND ($3::uuid IS NULL OR job_id = $3)
                    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [limit, leaseMs, jobId ?? null],
    );
    return rows.sort((a, b) => a.id - b.id);
  }

  /** Only the holder of the row's current `lease` can mark it. */
  async markProcessed(id: number, lease: string): Promise<void> {
    await this.q.query(`UPDATE outbox SET processed_at = now(), last_error = NULL WHERE id = $1 AND processed_at IS NULL AND lease = $2`, [id, lease]);
  }

  /** Leaves the row for a later try `delayMs` from now, or gives up on it (`dead`); lease holder only. */
  async markFailed(id: number, lease: string, error: string, delayMs: number, dead = false): Promise<void> {
    await this.q.query(
      `UPDATE outbox SET last_error = $3, available_at = now() + make_interval(secs => $4::double precision / 1000),
         dead_at = CASE WHEN $5 THEN now() END WHERE id = $1 AND processed_at IS NULL AND lease = $2`,
      [id, lease, error.slice(0, 2000), delayMs, dead],
    );
  }

  /** Whether side effects of an ended job of type `jobType` are still pending for this resource. */
  async pendingFor(resourceId: string, jobType: string): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `SELECT 1 FROM outbox WHERE resource_id = $1 AND processed_at IS NULL AND dead_at IS NULL AND job_type = $2 LIMIT 1`,
      [resourceId, jobType],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Whether an end of this job still has side effects pending. */
  async pendingForJob(jobId: string): Promise<boolean> {
    const { rowCount } = await this.q.query(`SELECT 1 FROM outbox WHERE job_id = $1 AND processed_at IS NULL AND dead_at IS NULL LIMIT 1`, [jobId]);
    return (rowCount ?? 0) > 0;
  }

  /** Deletes processed rows older than `days` (they only serve debugging by then). */
  async prune(days: number): Promise<number> {
    const { rowCount } = await this.q.query(`DELETE FROM outbox WHERE processed_at < now() - make_interval(days => $1)`, [days]);
    return rowCount ?? 0;
  }

  async forJob(jobId: string): Promise<OutboxRow[]> {
    const { rows } = await this.q.query<OutboxRow>(`SELECT * FROM outbox WHERE job_id = $1 ORDER BY id`, [jobId]);
    return rows;
  }
}
