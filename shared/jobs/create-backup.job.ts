import { z } from "zod";
import { backupFailed } from "../backup/backup-alerts.ts";
import { defineJob, operatorJob } from "./job-definition.ts";

/** A backup of every active collection (or of some): an operator's job, read with ADMIN_TOKEN. */
export const createBackupJob = defineJob({
  name: "create_backup",
  schema: z.object({
    backup_id: z.string().min(1),
    trigger: z.enum(["scheduled", "manual"]),
    collection_ids: z.array(z.uuid()).optional(),
    /** When the backup was asked for (its manifest's `createdAt`, which retention reads). */
    created_at: z.iso.datetime(),
  }),
  queue: "backup",
  options: () => operatorJob(30_000),
  visibility: "ops",
  cancel: "running",
  // A failed backup is not run again: the next one (scheduled, or POST /v1/backups) is a new backup.
  retry: false,
  async onEnd(tx, { status, data, job, error }) {
    const result = job.result as { size_bytes?: number; checksum?: string; collections?: [] } | null;
    await tx.backups.finish(data.backup_id, {
      status: status === "succeeded" ? "succeeded" : "failed",
      sizeBytes: result?.size_bytes,
      checksum: result?.checksum,
      collections: result?.collections,
      error: status === "succeeded" ? null : (error ?? { code: "CANCELLED", message: "the backup was cancelled" }),
    });
  },
  async afterEnd(deps, { status, data, job, error, attempt }) {
    if (status === "succeeded") {
      // Retention runs after each backup; one pruning per backup however often this is delivered.
      await deps.producer.enqueue("prune_backups", `prune-${data.backup_id}`, {});
      return;
    }
    // A cancel is an operator's own decision, not an alarm.
    if (status === "failed") await backupFailed(deps, { backupId: data.backup_id, jobId: job.id, trigger: data.trigger, status, error, attempt });
    else deps.logger.info({ backupId: data.backup_id, jobId: job.id }, "backup cancelled");
    // Its unpublished files; the storage may be what failed, and retention removes leftovers after a day.
    await deps.backupStorage.delete(data.backup_id).catch((err: unknown) => deps.logger.warn({ err, backupId: data.backup_id }, "could not remove a failed backup's files"));
  },
});
