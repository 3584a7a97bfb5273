import { z } from "zod";
import { defineJob } from "./job-definition.ts";

/**
 * Internal: queued with a delay when a run starts, it ends the run `WORKFLOW_TIMEOUT` if it is
 * still going at its deadline — whether a step is running (it is aborted) or waiting in a queue.
 */
export const workflowDeadlineJob = defineJob({
  name: "workflow_deadline",
  schema: z.object({
    run_id: z.uuid(),
    run_job_id: z.uuid(),
    run: z.number().int().min(1),
  }),
  queue: "workflow",
  options: () => ({ attempts: 5, backoff: { type: "fixed", delay: 5_000 }, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } }),
  visibility: "internal",
  cancel: "never",
  retry: false,
});
