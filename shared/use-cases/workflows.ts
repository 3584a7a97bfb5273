import { randomUUID } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import type { WorkflowRow, WorkflowRunRow, WorkflowStepRow } from "../db/workflows.repository.ts";
import { withTransaction } from "../db/transaction.ts";
import { AppError, conflict, notFound } from "../errors/app-error.ts";
import { schemaValidator } from "../workflows/json-schemas.ts";
import { checkWorkflow, type WorkflowDefinition } from "../workflows/workflow-definition.ts";
import { acceptWork, recordJob } from "./jobs.ts";

const nameTaken = (name: string) => conflict("WORKFLOW_NAME_TAKEN", `a workflow named "${name}" already exists`);

/** Checks a definition; 400 INVALID_WORKFLOW lists every problem with its JSON path. */
function checked(deps: Pick<Deps, "config">, body: unknown): { name: string; definition: WorkflowDefinition } {
  const result = checkWorkflow(body, { timeoutS: deps.config.DEFAULT_WORKFLOW_TIMEOUT, maxRetries: deps.config.MAX_WORKFLOW_RETRIES });
  if (result.ok) return result;
  const first = result.problems[0]!;
  const more = result.problems.length > 1 ? ` (and ${result.problems.length - 1} more)` : "";
  throw new AppError("INVALID_WORKFLOW", `${first.path}: ${first.message}${more}`, { httpStatus: 400, details: result.problems });
}

export async function createWorkflow(deps: Deps, tenantId: string, body: unknown): Promise<WorkflowRow> {
  const { name, definition } = checked(deps, body);
  const row = await withTransaction(deps.db, (tx) => tx.workflows.create({ id: randomUUID(), tenantId, name, definition }));
  if (!row) throw nameTaken(name);
  return row;
}

/** Stores the body as the workflow's next version; runs already started keep theirs. */
export async function updateWorkflow(deps: Deps, tenantId: string, id: string, body: unknown): Promise<WorkflowRow> {
  const { name, definition } = checked(deps, body);
  try {
    return await withTransaction(deps.db, async (tx) => {
      const row = await tx.workflows.addVersion(tenantId, id, name, definition);
      if (!row) throw notFound("workflow");
      return row;
    });
  } catch (err) {
    if ((err as { code?: string }).code === "23505") throw nameTaken(name);
    throw err;
  }
}

export async function getWorkflow(deps: Pick<Deps, "workflows">, tenantId: string, id: string, version?: number): Promise<WorkflowRow> {
  const row = await deps.workflows.get(tenantId, id, version);
  if (!row) throw notFound(version === undefined ? "workflow" : `version ${version} of the workflow`);
  return row;
}

export async function deleteWorkflow(deps: Pick<Deps, "workflows">, tenantId: string, id: string): Promise<void> {
  if (!(await deps.workflows.markDeleted(tenantId, id))) throw notFound("workflow");
}

/**
 * Starts a run of the workflow's current version: the run, a row per step and the durable job
 * commit together once the job is queued. The input is checked against `input_schema` if any.
 */
export async function startRun(
  deps: Deps,
  tenantId: string,
  workflowId: string,
  request: { input: unknown; callbackUrl?: string },
): Promise<{ run: WorkflowRunRow; job: JobRow }> {
  const workflow = await getWorkflow(deps, tenantId, workflowId);
  const { input_schema: inputSchema } = workflow.definition;
  if (inputSchema) {
    const compiled = schemaValidator(inputSchema);
    if ("problem" in compiled) throw new AppError("INVALID_INPUT", `the workflow's input_schema cannot be used: ${compiled.problem}; store a new version`, { httpStatus: 400 });
    if (!compiled.validate(request.input)) {
      throw new AppError("INVALID_INPUT", `the input does not match the workflow's input_schema: ${compiled.errors()}`, { httpStatus: 400 });
    }
  }
  const runId = randomUUID();
  return acceptWork(deps, async (tx) => {
    const job = await recordJob(deps, tx, {
      name: "run_workflow",
      tenantId,
      payload: { tenant_id: tenantId, run_id: runId, workflow_id: workflow.id, version: workflow.version },
      resource: { type: "workflow_run", id: runId },
      callbackUrl: request.callbackUrl,
    });
    const run = await tx.workflows.insertRun({
      id: runId,
      tenantId,
      workflowId: workflow.id,
      version: workflow.version,
      jobId: job.id,
      input: request.input,
      stepIds: workflow.definition.steps.map((s) => s.id),
    });
    return { run, job };
  });
}

/** A run with its job (status, timings, error), its steps and the version it runs. */
export async function getRun(deps: Deps, tenantId: string, runId: string): Promise<{ run: WorkflowRunRow; job: JobRow; steps: WorkflowStepRow[]; definition: WorkflowDefinition }> {
  const run = await deps.workflows.getRun(tenantId, runId);
  const job = run ? await deps.jobs.findById(run.job_id) : undefined;
  const version = run ? await deps.workflows.definitionOf(run.workflow_id, run.version) : undefined;
  if (!run || !job || !version) throw notFound("workflow run");
  return { run, job, steps: await deps.workflows.steps(run.id), definition: version.definition };
}

/** A page of the workflow's runs, newest first, each with its job. */
export async function listRuns(
  deps: Deps,
  tenantId: string,
  workflowId: string,
  limit: number,
  cursor?: string,
): Promise<{ runs: Array<{ run: WorkflowRunRow; job: JobRow }>; nextCursor: string | null }> {
  await getWorkflow(deps, tenantId, workflowId);
  const { rows, nextCursor } = await deps.workflows.listRuns(tenantId, workflowId, limit, cursor);
  const jobs = await Promise.all(rows.map((r) => deps.jobs.findById(r.job_id)));
  return { runs: rows.flatMap((run, i) => (jobs[i] ? [{ run, job: jobs[i] }] : [])), nextCursor };
}
