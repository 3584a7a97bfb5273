import { isBackupStorageError } from "../../shared/backup-storage/backup-storage.ts";
import { manifestChecksum, manifestSize } from "../../shared/backup/backup-manifest.ts";
import { permanent, unavailable } from "../../shared/errors/app-error.ts";
import { restoreBackup } from "../../shared/backup/restore-backup.ts";
import { takeBackup } from "../../shared/backup/take-backup.ts";
import { pruneBackups, requestBackup } from "../../shared/use-cases/backups.ts";
import type { Processor } from "../processor.ts";

/** Storage that refused (a missing bucket, denied access, a full disk) fails the job at once; an outage is retried. */
const refusedIsFinal = (err: unknown): never => {
  if (isBackupStorageError(err)) throw err.retryable ? unavailable(err.code, err.message, err, 30) : permanent(err.code, err.message);
  throw err;
};

export const createBackupProcessor: Processor<"create_backup"> = async (payload, ctx) => {
  // A retried attempt starts over: the files an earlier one stored are replaced.
  const manifest = await takeBackup(ctx.deps, {
    backupId: payload.backup_id,
    trigger: payload.trigger,
    collectionIds: payload.collection_ids,
    createdAt: new Date(payload.created_at),
    checkpoint: ctx.checkpoint,
    progress: ctx.progress,
  }).catch(refusedIsFinal);
  return {
    backup_id: payload.backup_id,
    size_bytes: manifestSize(manifest),
    checksum: manifestChecksum(manifest, payload.backup_id),
    collections: manifest.collections.map((c) => ({ id: c.id, tenant_id: c.tenant_id, name: c.name, documents: c.documents, chunks: c.chunks, points: c.points })),
    location: ctx.deps.backupStorage.location,
  };
};

export const restoreBackupProcessor: Processor<"restore_backup"> = async (payload, ctx) => {
  const result = await restoreBackup(ctx.deps, {
    jobId: ctx.job.id!,
    backupId: payload.backup_id,
    collectionIds: payload.collection_ids,
    asNewCollection: payload.as_new_collection,
    checkpoint: ctx.checkpoint,
    progress: ctx.progress,
  }).catch(refusedIsFinal);
  return { ...result };
};

/** The schedule tick this run belongs to (BullMQ sets `prevMillis` on a Job Scheduler's jobs). */
function tickOf(opts: { prevMillis?: number }): Date {
  return new Date(typeof opts.prevMillis === "number" ? opts.prevMillis : Math.floor(Date.now() / 60_000) * 60_000);
}

export const scheduleBackupProcessor: Processor<"schedule_backup"> = async (_payload, ctx) => {
  const { backup, job } = await requestBackup(ctx.deps, { trigger: "scheduled", at: tickOf(ctx.job.opts as { prevMillis?: number }) });
  return { backup_id: backup.id, job_id: job?.id ?? null, duplicate: job === undefined };
};

export const pruneBackupsProcessor: Processor<"prune_backups"> = async (_payload, ctx) => pruneBackups(ctx.deps);
