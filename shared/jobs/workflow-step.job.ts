import { z } from "zod";
import { defineJob, retried } from "./job-definition.ts";

/**
 * Internal: one step of a workflow run, a child of the run's job. Its attempts are the step's
 * `retries` + 1 (set when it is queued); a step that fails for good fails its run with its error.
 */
export const workflowStepJob = defineJob({
  name: "workflow_step",
  schema: z.object({
    tenant_id: z.string().min(1),
    run_id: z.uuid(),
    /** The run's durable job: its cancel stops this step, its end makes this step moot. */
    run_job_id: z.uuid(),
    /** The run of that job (a retried run queues its steps again under new ids). */
    run: z.number().int().min(1),
    step_id: z.string().min(1),
  }),
  queue: "workflow",
  options: ({ attempts }) => ({ ...retried(attempts), failParentOnFailure: true }),
  visibility: "internal",
  owner: (data) => data.run_job_id,
  cancel: "never",
  retry: false,
});

/** The BullMQ id of a step's job: stable, so a step queued twice (by two finishing needs) runs once. */
export const stepJobId = (data: { run_job_id: string; run: number; step_id: string }) => `${data.run_job_id}-r${data.run}-${data.step_id}`;
