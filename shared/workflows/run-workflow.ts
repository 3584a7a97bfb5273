import type { Deps } from "../deps.ts";
import type { WorkflowRunRow, WorkflowStepRow } from "../db/workflows.repository.ts";
import { AppError, permanent } from "../errors/app-error.ts";
import type { JobData } from "../jobs/index.ts";
import { presentJob } from "../presenters.ts";
import { endJob } from "../jobs/end-job.ts";
import { executeStep, type StepRun } from "./execute-step.ts";
import { preview } from "./output-preview.ts";
import { STEP_TYPES, type StepTypeName, type StepWith } from "./step-types.ts";
import { render, TemplateError } from "./templates.ts";
import type { WorkflowDefinition, WorkflowStep } from "./workflow-definition.ts";

/** What the run and step processors ask of the queue (the worker's job context provides it). */
export interface StepQueue {
  /** Queues these steps as children of the run's job (stable ids: queuing one twice runs it once). */
  queue(steps: WorkflowStep[], run: number): Promise<void>;
}

const timeoutError = (timeoutS: number) => permanent("WORKFLOW_TIMEOUT", `the run did not finish within its timeout_s (${timeoutS} s)`);

async function loadRun(deps: Pick<Deps, "workflows">, runId: string): Promise<{ run: WorkflowRunRow; definition: WorkflowDefinition }> {
  const run = await deps.workflows.findRun(runId);
  const version = run ? await deps.workflows.definitionOf(run.workflow_id, run.version) : undefined;
  if (!run || !version) throw permanent("WORKFLOW_RUN_GONE", "the run or its workflow version no longer exists");
  return { run, definition: version.definition };
}

/**
 * Steps whose needs have all succeeded and that have not ended: not started (`pending`, `queued`),
 * or — for the driver, which queues again whatever may have gone missing (Redis lost it) — also
 * `running` (a live job of the same id makes the second add a no-op).
 */
function readySteps(definition: WorkflowDefinition, rows: WorkflowStepRow[], options: { among?: (step: WorkflowStep) => boolean; running?: boolean } = {}): WorkflowStep[] {
  const status = new Map(rows.map((r) => [r.step_id, r.status]));
  const open = (id: string) => status.get(id) === "pending" || status.get(id) === "queued" || (options.running === true && status.get(id) === "running");
  return definition.steps.filter((s) => open(s.id) && s.needs.every((n) => status.get(n) === "succeeded") && (!options.among || options.among(s)));
}

/**
 * What Postgres can store of a step's output: NUL characters go, lone surrogates become U+FFFD
 * (an http answer or a model may carry either; Postgres refuses them in jsonb).
 */
export function storable(value: unknown): unknown {
  if (typeof value === "string") return value.replaceAll("\0", "").toWellFormed();
  if (Array.isArray(value)) return value.map(storable);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k) as string, storable(v)]));
  return value;
}

/**
 * The run's driver, each time its job is taken: starts the run's clock (and the deadline job that
 * enforces it), queues the steps that can start, and returns the run's result once every step has
 * succeeded. `wait` parks the job until its queued steps have ended; it returns only when none is
 * left pending (which, with steps still to do, means something went missing: they are queued again).
 */
export async function driveRun(
  deps: Deps,
  data: JobData<"run_workflow">,
  job: { id: string; checkpoint(): Promise<void>; wait(): Promise<void> } & StepQueue,
): Promise<Record<string, unknown>> {
  const { run, definition } = await loadRun(deps, data.run_id);
  const row = await deps.jobs.findById(job.id);
  if (!row) throw permanent("WORKFLOW_RUN_GONE", "the run's job no longer exists");
  const deadline = await deps.workflows.startClock(run.id, definition.timeout_s);
  const left = deadline.getTime() - Date.now();
  if (left <= 0) throw timeoutError(definition.timeout_s);
  await deps.producer.enqueue("workflow_deadline", `${job.id}-deadline-r${row.run}`, { run_id: run.id, run_job_id: job.id, run: row.run }, { delay: left });
  for (let rounds = 0; ; rounds++) {
    await job.checkpoint();
    const steps = await deps.workflows.steps(run.id);
    const failed = steps.find((s) => s.status === "failed");
    if (failed) throw new AppError(failed.error?.code ?? "STEP_FAILED", `step "${failed.step_id}": ${failed.error?.message ?? "failed"}`, { httpStatus: 422 });
    if (steps.every((s) => s.status === "succeeded")) return runResult(run, definition, steps);
    // Nothing pending and steps still to do, again and again: they cannot be queued.
    if (rounds >= 3) throw new AppError("WORKFLOW_STUCK", "steps remain that no queued job will run; retry the run", { httpStatus: 500 });
    const ready = readySteps(definition, steps, { running: true });
    await deps.workflows.markQueued(
      run.id,
      ready.map((s) => s.id),
    );
    await job.queue(ready, row.run);
    await job.wait();
  }
}

/** The run's job result: where to read it, and the outputs of its last steps (those no step needs). */
function runResult(run: WorkflowRunRow, definition: WorkflowDefinition, steps: WorkflowStepRow[]): Record<string, unknown> {
  const needed = new Set(definition.steps.flatMap((s) => s.needs));
  const outputs = Object.fromEntries(
    steps.filter((s) => !needed.has(s.step_id)).map((s) => [s.step_id, preview(s.output, s.output_bytes).output]),
  );
  return { run_id: run.id, workflow_id: run.workflow_id, version: run.version, outputs };
}

/** Ends a run that is still going at its deadline (its running steps are aborted from the outbox). */
export async function enforceDeadline(deps: Deps, data: JobData<"workflow_deadline">): Promise<Record<string, unknown>> {
  const row = await deps.jobs.findById(data.run_job_id);
  if (!row || row.run !== data.run || (row.status !== "queued" && row.status !== "running")) return { ended: false };
  const { definition } = await loadRun(deps, data.run_id);
  const error = timeoutError(definition.timeout_s);
  const ended = await endJob(deps, data.run_job_id, { status: "failed", error: { code: error.code, message: error.message } });
  if (ended) deps.logger.info({ jobId: data.run_job_id, runId: data.run_id }, "workflow run timed out");
  return { ended: Boolean(ended) };
}

function budget(step: WorkflowStep, definition: WorkflowDefinition, deadline: Date | null) {
  const runLeft = deadline ? deadline.getTime() - Date.now() : definition.timeout_s * 1000;
  const stepMs = step.timeout_s ? step.timeout_s * 1000 : runLeft;
  return { runLeft, stepMs: Math.min(stepMs, runLeft), stepIsShorter: stepMs < runLeft };
}

/**
 * Rewrites a step's error for its run: the same code, the step named in the message. After its
 * last attempt it is no longer retryable, so a step that failed for a reason of the tenant's own
 * (a 4xx-class code: its receiver, its template, its model's answer) is logged at info, not as an
 * operator's alarm; provider and internal failures (5xx-class) stay errors.
 */
function forRun(stepId: string, err: AppError, final: boolean): AppError {
  return new AppError(err.code, `step "${stepId}": ${err.message}`, {
    httpStatus: err.httpStatus,
    retryable: err.retryable && !final,
    retryAfter: err.retryAfter,
    cause: err,
  });
}

/**
 * One attempt of one step. A step that has succeeded already (its job ran again after a crash)
 * only queues what it unblocks; otherwise its references are resolved from the run's input and
 * the outputs before it, its `with` is checked again, and it runs under the shorter of its own
 * timeout and the run's deadline. Its output is stored before the steps it unblocks are queued.
 */
export async function runStep(
  deps: Deps,
  data: JobData<"workflow_step">,
  job: { attempt: number; maxAttempts: number; signal: AbortSignal; checkpoint(): Promise<void> } & StepQueue,
): Promise<Record<string, unknown>> {
  await job.checkpoint();
  // A step job of an earlier run of a retried run (the same run job, an older number) does nothing.
  if ((await deps.jobs.findById(data.run_job_id))?.run !== data.run) return { step_id: data.step_id, stopped: true };
  const { run, definition } = await loadRun(deps, data.run_id);
  const step = definition.steps.find((s) => s.id === data.step_id);
  if (!step) throw permanent("WORKFLOW_RUN_GONE", `the run's workflow version has no step "${data.step_id}"`);
  // Best effort: when Redis refuses here, the run's driver queues them when it wakes (it wakes
  // once this step's job has completed), so a finished step never fails over it.
  const queueUnblocked = async () => {
    try {
      const ready = readySteps(definition, await deps.workflows.steps(run.id), { among: (s) => s.needs.includes(step.id) });
      await deps.workflows.markQueued(
        run.id,
        ready.map((s) => s.id),
      );
      await job.queue(ready, data.run);
    } catch (err) {
      deps.logger.warn({ err, runId: run.id, stepId: step.id }, "could not queue the steps this one unblocks; the run's driver will");
    }
  };
  const current = await deps.workflows.step(run.id, step.id);
  if (current?.status === "succeeded") {
    await queueUnblocked();
    return { step_id: step.id, repeated: false };
  }
  const started = await deps.workflows.startAttempt(run.id, step.id);
  if (!started) return { step_id: step.id, stopped: true }; // the run ended it

  const { runLeft, stepMs, stepIsShorter } = budget(step, definition, run.deadline_at);
  const runTimer = AbortSignal.timeout(Math.max(runLeft, 0));
  const stepTimer = AbortSignal.timeout(Math.max(stepMs, 0));
  const signal = AbortSignal.any([job.signal, runTimer, stepTimer]);
  let output: Record<string, unknown>;
  try {
    if (runLeft <= 0) throw timeoutError(definition.timeout_s);
    const resolved = resolveWith(step, run, await deps.workflows.outputs(run.id, definition.steps.map((s) => s.id)));
    const stepRun: StepRun = { deps, tenantId: run.tenant_id, runId: run.id, stepId: step.id, signal, budgetMs: Math.max(stepMs, 1) };
    output = await executeStep(step.type, stepRun, resolved as StepWith<StepTypeName>);
  } catch (caught) {
    if (job.signal.aborted) throw caught; // a cancel, or the run ended: its own end records the step
    let err: AppError;
    if (runTimer.aborted && !(stepIsShorter && stepTimer.aborted)) err = timeoutError(definition.timeout_s);
    else if (stepTimer.aborted) err = new AppError("STEP_TIMEOUT", `the step did not finish within its timeout_s (${step.timeout_s} s)`, { httpStatus: 422, retryable: true });
    else if (caught instanceof AppError) err = caught;
    else err = new AppError("INTERNAL", (caught as Error).message ?? String(caught), { retryable: true, cause: caught });
    const final = !err.retryable || job.attempt >= job.maxAttempts;
    await deps.workflows.fail(run.id, step.id, { code: err.code, message: err.message }, final);
    throw forRun(step.id, err, final);
  }
  const kept = storable(output);
  const json = JSON.stringify(kept);
  if (!(await deps.workflows.succeed(run.id, step.id, kept, Buffer.byteLength(json)))) return { step_id: step.id, stopped: true };
  await queueUnblocked();
  await reportProgress(deps, data.run_job_id, run.id, definition.steps.length);
  return { step_id: step.id, output_bytes: Buffer.byteLength(json) };
}

/** The run's job shows the share of its steps that have succeeded (best effort: it is only a display). */
async function reportProgress(deps: Deps, runJobId: string, runId: string, total: number): Promise<void> {
  try {
    const succeeded = (await deps.workflows.steps(runId)).filter((s) => s.status === "succeeded").length;
    const moved = await deps.jobs.advanceProgress(runJobId, Math.min(99, Math.round((100 * succeeded) / total)));
    if (moved) await deps.jobs.addEvent(runJobId, "progress", presentJob(moved));
  } catch (err) {
    deps.logger.warn({ err, runId }, "could not report the run's progress");
  }
}

/** The step's `with` with its references resolved, checked against its type's schema. */
function resolveWith(step: WorkflowStep, run: WorkflowRunRow, outputs: Record<string, unknown>): unknown {
  let rendered: unknown;
  try {
    rendered = render(step.with, { input: run.input, outputs });
  } catch (err) {
    if (err instanceof TemplateError) throw permanent("TEMPLATE_UNRESOLVED", err.message);
    throw err;
  }
  const parsed = STEP_TYPES[step.type].resolved.safeParse(rendered);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `with.${i.path.join(".")}: ${i.message}`).join("; ");
    throw permanent("STEP_INVALID_INPUT", `after its references were resolved, ${issues}`);
  }
  return parsed.data;
}

