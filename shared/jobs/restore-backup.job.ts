import { z } from "zod";
import { defineJob, operatorJob } from "./job-definition.ts";

/** Restores collections from a backup, in place or beside the live ones. */
export const restoreBackupJob = defineJob({
  name: "restore_backup",
  schema: z.object({
    backup_id: z.string().min(1),
    collection_ids: z.array(z.uuid()).optional(),
    as_new_collection: z.boolean().default(false),
  }),
  queue: "backup",
  options: () => operatorJob(10_000),
  visibility: "ops",
  cancel: "running",
  // Every attempt starts from the backup's files; a failed one changed nothing.
  retry: true,
  async onEnd(tx, { job }) {
    await tx.collections.releaseRestore(job.id);
  },
});
