import { stepJobId } from "../../shared/jobs/workflow-step.job.ts";
import { driveRun, enforceDeadline, runStep, type StepQueue } from "../../shared/workflows/run-workflow.ts";
import type { JobContext, Processor } from "../processor.ts";

/** Queues steps of a run as children of its job, each with its own number of attempts. */
function stepQueue(ctx: JobContext, run: { tenantId: string; runId: string; runJobId: string }): StepQueue {
  return {
    async queue(steps, runNumber) {
      for (const step of steps) {
        const data = { tenant_id: run.tenantId, run_id: run.runId, run_job_id: run.runJobId, run: runNumber, step_id: step.id };
        await ctx.deps.producer.enqueue("workflow_step", stepJobId(data), data, {
          parent: { id: run.runJobId, queue: ctx.job.queueQualifiedName },
          attempts: step.retries + 1,
        });
      }
    },
  };
}

/** Drives a run: queues what can start, parks until its steps end, and ends with their outputs. */
export const runWorkflowProcessor: Processor<"run_workflow"> = (payload, ctx) =>
  driveRun(ctx.deps, payload, {
    id: ctx.job.id!,
    checkpoint: () => ctx.checkpoint(),
    wait: () => ctx.waitForChildren(),
    ...stepQueue(ctx, { tenantId: payload.tenant_id, runId: payload.run_id, runJobId: ctx.job.id! }),
  });

/** One attempt of one step; its output is stored before the steps it unblocks are queued. */
export const workflowStepProcessor: Processor<"workflow_step"> = (payload, ctx) =>
  runStep(ctx.deps, payload, {
    attempt: ctx.job.attemptsMade + 1,
    maxAttempts: ctx.job.opts.attempts ?? 1,
    signal: ctx.signal,
    checkpoint: () => ctx.checkpoint(),
    ...stepQueue(ctx, { tenantId: payload.tenant_id, runId: payload.run_id, runJobId: payload.run_job_id }),
  });

/** Ends a run still going at its deadline. */
export const workflowDeadlineProcessor: Processor<"workflow_deadline"> = (payload, ctx) => enforceDeadline(ctx.deps, payload);
