import type { WorkflowDefinition } from "../workflows/workflow-definition.ts";
import { keysetPage } from "./cursor.ts";
import type { JobError } from "./jobs.repository.ts";
import type { Queryable } from "./queryable.ts";

/** A workflow with the definition of its current version. */
export interface WorkflowRow {
  id: string;
  tenant_id: string;
  name: string;
  version: number;
  definition: WorkflowDefinition;
  created_at: Date;
  updated_at: Date;
}

export interface WorkflowRunRow {
  id: string;
  tenant_id: string;
  workflow_id: string;
  version: number;
  job_id: string;
  input: unknown;
  deadline_at: Date | null;
  created_at: Date;
}

export type StepStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "cancelled" | "skipped";

export interface WorkflowStepRow {
  run_id: string;
  step_id: string;
  status: StepStatus;
  attempts: number;
  output: unknown;
  output_bytes: number | null;
  error: JobError | null;
  queued_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
}

const SELECT_WORKFLOW = `SELECT w.id, w.tenant_id, w.name, w.version, v.definition, w.created_at, w.updated_at
  FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version`;
const SELECT_STEP = `SELECT run_id, step_id, status, attempts, output, output_bytes, error, queued_at, started_at, finished_at FROM workflow_steps`;

/** Workflows, their versions, their runs and each run's steps. */
export class WorkflowsRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  /** Stores a new workflow at version 1; undefined when the tenant has an active one of that name. */
  async create(row: { id: string; tenantId: string; name: string; definition: WorkflowDefinition }): Promise<WorkflowRow | undefined> {
    const { rowCount } = await this.q.query(
      `INSERT INTO workflows (id, tenant_id, name) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, name) WHERE status = 'active' DO NOTHING`,
      [row.id, row.tenantId, row.name],
    );
    if (rowCount !== 1) return undefined;
    await this.q.query(`INSERT INTO workflow_versions (workflow_id, version, definition) VALUES ($1, 1, $2)`, [row.id, row.definition]);
    return this.get(row.tenantId, row.id);
  }

  /** Adds the next version (and renames); undefined when the workflow is gone. Runs keep theirs. */
  async addVersion(tenantId: string, id: string, name: string, definition: WorkflowDefinition): Promise<WorkflowRow | undefined> {
    const { rows } = await this.q.query<{ version: number }>(
      `UPDATE workflows SET version = version + 1, name = $3, updated_at = now() WHERE id = $1 AND tenant_id = $2 AND status = 'active' RETURNING version`,
      [id, tenantId, name],
    );
    if (!rows[0]) return undefined;
    await this.q.query(`INSERT INTO workflow_versions (workflow_id, version, definition) VALUES ($1, $2, $3)`, [id, rows[0].version, definition]);
    return this.get(tenantId, id);
  }

  /** The workflow at its current version, or at `version`. */
  async get(tenantId: string, id: string, version?: number): Promise<WorkflowRow | undefined> {
    if (version === undefined) {
      const { rows } = await this.q.query<WorkflowRow>(`${SELECT_WORKFLOW} WHERE w.id = $1 AND w.tenant_id = $2 AND w.status = 'active'`, [id, tenantId]);
      return rows[0];
    }
    const { rows } = await this.q.query<WorkflowRow>(
      `SELECT w.id, w.tenant_id, w.name, v.version, v.definition, w.created_at, v.created_at AS updated_at
         FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = $3
        WHERE w.id = $1 AND w.tenant_id = $2 AND w.status = 'active'`,
      [id, tenantId, version],
    );
    return rows[0];
  }

  /** The version a run executes (even of a workflow deleted since). */
  async definitionOf(workflowId: string, version: number): Promise<{ name: string; definition: WorkflowDefinition } | undefined> {
    const { rows } = await this.q.query<{ name: string; definition: WorkflowDefinition }>(
      `SELECT w.name, v.definition FROM workflow_versions v JOIN workflows w ON w.id = v.workflow_id WHERE v.workflow_id = $1 AND v.version = $2`,
      [workflowId, version],
    );
    return rows[0];
  }

  async list(tenantId: string, limit: number, cursor?: string): Promise<{ rows: WorkflowRow[]; nextCursor: string | null }> {
    return keysetPage<WorkflowRow>(this.q, { select: SELECT_WORKFLOW, where: "w.tenant_id = $1 AND w.status = 'active'", params: [tenantId], alias: "w" }, limit, cursor);
  }

  /** Hides the workflow and frees its name; runs already started finish, with their version. */
  async markDeleted(tenantId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.q.query(`UPDATE workflows SET status = 'deleted', updated_at = now() WHERE id = $1 AND tenant_id = $2 AND status = 'active'`, [
      id,
      tenantId,
    ]);
    return rowCount === 1;
  }

  /** Records a run and one `pending` row per step. */
  async insertRun(run: { id: string; tenantId: string; workflowId: string; version: number; jobId: string; input: unknown; stepIds: string[] }): Promise<WorkflowRunRow> {
    const { rows } = await this.q.query<WorkflowRunRow>(
      `INSERT INTO workflow_runs (id, tenant_id, workflow_id, version, job_id, input) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [run.id, run.tenantId, run.workflowId, run.version, run.jobId, JSON.stringify(run.input)],
    );
    await this.q.query(`INSERT INTO workflow_steps (run_id, step_id) SELECT $1, unnest($2::text[])`, [run.id, run.stepIds]);
    return rows[0]!;
  }

  async getRun(tenantId: string, runId: string): Promise<WorkflowRunRow | undefined> {
    const { rows } = await this.q.query<WorkflowRunRow>(`SELECT * FROM workflow_runs WHERE id = $1 AND tenant_id = $2`, [runId, tenantId]);
    return rows[0];
  }

  async findRun(runId: string): Promise<WorkflowRunRow | undefined> {
    const { rows } = await this.q.query<WorkflowRunRow>(`SELECT * FROM workflow_runs WHERE id = $1`, [runId]);
    return rows[0];
  }

  async listRuns(tenantId: string, workflowId: string, limit: number, cursor?: string): Promise<{ rows: WorkflowRunRow[]; nextCursor: string | null }> {
    return keysetPage<WorkflowRunRow>(this.q, { select: "SELECT * FROM workflow_runs", where: "tenant_id = $1 AND workflow_id = $2", params: [tenantId, workflowId] }, limit, cursor);
  }

  /** The run's deadline: set by the first driver of this attempt of the run, kept by any later one. */
  async startClock(runId: string, timeoutS: number): Promise<Date> {
    const { rows } = await this.q.query<{ deadline_at: Date }>(
      `UPDATE workflow_runs SET deadline_at = COALESCE(deadline_at, now() + make_interval(secs => $2)) WHERE id = $1 RETURNING deadline_at`,
      [runId, timeoutS],
    );
    return rows[0]!.deadline_at;
  }

  async steps(runId: string): Promise<WorkflowStepRow[]> {
    const { rows } = await this.q.query<WorkflowStepRow>(`${SELECT_STEP} WHERE run_id = $1`, [runId]);
    return rows;
  }

  async step(runId: string, stepId: string): Promise<WorkflowStepRow | undefined> {
    const { rows } = await this.q.query<WorkflowStepRow>(`${SELECT_STEP} WHERE run_id = $1 AND step_id = $2`, [runId, stepId]);
    return rows[0];
  }

  /** Outputs of the given steps that have succeeded. */
  async outputs(runId: string, stepIds: string[]): Promise<Record<string, unknown>> {
    const { rows } = await this.q.query<{ step_id: string; output: unknown }>(
      `SELECT step_id, output FROM workflow_steps WHERE run_id = $1 AND step_id = ANY($2::text[]) AND status = 'succeeded'`,
      [runId, stepIds],
    );
    return Object.fromEntries(rows.map((r) => [r.step_id, r.output]));
  }

  async markQueued(runId: string, stepIds: string[]): Promise<void> {
    await this.q.query(`UPDATE workflow_steps SET status = 'queued', queued_at = now() WHERE run_id = $1 AND step_id = ANY($2::text[]) AND status = 'pending'`, [
      runId,
      stepIds,
    ]);
  }

  /** An attempt starts; undefined when the step has ended (succeeded, or the run ended it). */
  async startAttempt(runId: string, stepId: string): Promise<WorkflowStepRow | undefined> {
    const { rows } = await this.q.query<WorkflowStepRow>(
      `UPDATE workflow_steps SET status = 'running', attempts = attempts + 1, started_at = now(), finished_at = NULL,
              queued_at = COALESCE(queued_at, now())
        WHERE run_id = $1 AND step_id = $2 AND status IN ('pending', 'queued', 'running')
        RETURNING run_id, step_id, status, attempts, output, output_bytes, error, queued_at, started_at, finished_at`,
      [runId, stepId],
    );
    return rows[0];
  }

  /** Stores the output; false when the run ended the step meanwhile (its output is not kept). */
  async succeed(runId: string, stepId: string, output: unknown, bytes: number): Promise<boolean> {
    const { rowCount } = await this.q.query(
      `UPDATE workflow_steps SET status = 'succeeded', output = $3, output_bytes = $4, error = NULL, finished_at = now()
        WHERE run_id = $1 AND step_id = $2 AND status = 'running'`,
      [runId, stepId, JSON.stringify(output), bytes],
    );
    return rowCount === 1;
  }

  /** An attempt failed: `final` ends the step, else it waits for its next attempt. */
  async fail(runId: string, stepId: string, error: JobError, final: boolean): Promise<void> {
    await this.q.query(
      `UPDATE workflow_steps SET status = $3, error = $4, finished_at = CASE WHEN $3 = 'failed' THEN now() END
        WHERE run_id = $1 AND step_id = $2 AND status = 'running'`,
      [runId, stepId, final ? "failed" : "queued", error],
    );
  }

  /** The run ended: steps that had started end with it (with its error), those that never did are skipped. */
  async endOpenSteps(runId: string, status: "failed" | "cancelled", error: JobError): Promise<void> {
    await this.q.query(
      `UPDATE workflow_steps
          SET status = CASE WHEN status = 'running' OR attempts > 0 THEN $2 ELSE 'skipped' END,
              error = CASE WHEN status = 'running' OR attempts > 0 THEN $3::jsonb ELSE error END,
              finished_at = now()
        WHERE run_id = $1 AND status IN ('pending', 'queued', 'running')`,
      [runId, status, error],
    );
  }

  /** A retried run: what did not succeed is to do again; succeeded steps keep their output. */
  async resetForRetry(runId: string): Promise<void> {
    await this.q.query(
      `UPDATE workflow_steps SET status = 'pending', attempts = 0, error = NULL, queued_at = NULL, started_at = NULL, finished_at = NULL
        WHERE run_id = $1 AND status <> 'succeeded'`,
      [runId],
    );
    await this.q.query(`UPDATE workflow_runs SET deadline_at = NULL WHERE id = $1`, [runId]);
  }
}
