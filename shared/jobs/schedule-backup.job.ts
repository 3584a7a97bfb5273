import { z } from "zod";
import { defineJob, runOnce } from "./job-definition.ts";

/**
 * Internal, from the nightly Job Scheduler: records the night's durable `create_backup` job (one
 * per schedule tick, however often the tick is delivered).
 */
export const scheduleBackupJob = defineJob({
  name: "schedule_backup",
  schema: z.object({}),
  queue: "backup",
  options: () => ({ ...runOnce, attempts: 5, backoff: { type: "quarry", delay: 10_000 } }),
  visibility: "internal",
  cancel: "never",
  retry: false,
});
