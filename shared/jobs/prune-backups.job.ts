import { z } from "zod";
import { defineJob, runOnce } from "./job-definition.ts";

/** Internal: applies the retention policy to the stored backups (after each successful backup). */
export const pruneBackupsJob = defineJob({
  name: "prune_backups",
  schema: z.object({}),
  queue: "backup",
  options: () => ({ ...runOnce, attempts: 3, backoff: { type: "quarry", delay: 30_000 } }),
  visibility: "internal",
  cancel: "never",
  retry: false,
});
