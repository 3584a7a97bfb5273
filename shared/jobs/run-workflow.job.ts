import { z } from "zod";
import { publishCancel } from "./cancel-bus.ts";
import { defineJob, retried } from "./job-definition.ts";

/**
 * A workflow run: the durable job a tenant polls, cancels and retries. Its processor drives the
 * run — it queues the steps that can start as its children and waits; each step queues the steps
 * it unblocks — and ends it with every step's output once all have succeeded.
 */
export const runWorkflowJob = defineJob({
  name: "run_workflow",
  schema: z.object({
    tenant_id: z.string().min(1),
    run_id: z.uuid(),
    workflow_id: z.uuid(),
    version: z.number().int().min(1),
  }),
  queue: "workflow",
  options: ({ attempts }) => retried(attempts),
  visibility: "tenant",
  cancel: "running",
  // A retried run starts again where it stopped: succeeded steps keep their output.
  retry: true,
  async onEnd(tx, { status, data, error }) {
    if (status !== "succeeded") await tx.workflows.endOpenSteps(data.run_id, status, error ?? { code: "CANCELLED", message: "cancelled" });
  },
  async afterEnd(deps, { status, job }) {
    // Steps still running on other branches stop now rather than at their next boundary.
    if (status !== "succeeded") await publishCancel(deps.redis, deps.config.QUEUE_PREFIX, job.id);
  },
  async onRetry(tx, data) {
    await tx.workflows.resetForRetry(data.run_id);
  },
});
