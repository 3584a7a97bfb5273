import { randomBytes } from "node:crypto";
import { newBackupId, manifestChecksum, manifestSize, parseQuarryManifest } from "../backup/backup-manifest.ts";
import { readBackupManifest, selectBackupCollections } from "../backup/restore-backup.ts";
import { planRetention, type KeepReason } from "../backup/retention.ts";
import { OPS_TENANT } from "../config/env.ts";
import type { BackupCollectionSummary, BackupRow } from "../db/backups.repository.ts";
import type { JobError, JobRow } from "../db/jobs.repository.ts";
import type { Deps } from "../deps.ts";
import { isBackupStorageError } from "../backup-storage/backup-storage.ts";
import { AppError } from "../errors/app-error.ts";
import { acceptWork, recordJob } from "./jobs.ts";

/** A backup as the admin API shows it. */
export interface BackupView {
  id: string;
  trigger: "scheduled" | "manual";
  /** `all`: every active collection; `some`: those asked for (`collection_ids`). */
  scope: "all" | "some";
  status: "running" | "succeeded" | "failed";
  created_at: string;
  finished_at: string | null;
  size_bytes: number | null;
  collections: BackupCollectionSummary[];
  /** `sha256:<hex>` of the manifest, which holds the sha256 of every file. */
  checksum: string | null;
  /** Why retention keeps it: the longest-lived class (`monthly`, `weekly`, `daily`, `latest`); null when the next pruning deletes it, or it is not a complete backup. */
  retention_class: RetentionClass | null;
  job_id: string | null;
  error?: JobError;
}

const RETENTION_ORDER: readonly KeepReason[] = ["monthly", "weekly", "daily", "latest"];
/** Why a backup is kept: its longest-lived grandfather-father-son class, or `partial` (some collections only, kept BACKUP_KEEP_DAILY days). */
export type RetentionClass = KeepReason | "partial";

function retentionPolicy(config: Deps["config"]) {
  return { keepDaily: config.BACKUP_KEEP_DAILY, keepWeekly: config.BACKUP_KEEP_WEEKLY, keepMonthly: config.BACKUP_KEEP_MONTHLY, timeZone: config.BACKUP_TZ };
}

/**
 * Records a backup and its durable job. A scheduled backup is named after its schedule tick, so a
 * tick delivered twice records it once (`job` is then undefined).
 */
export async function requestBackup(
  deps: Deps,
  input: { trigger: "scheduled" | "manual"; at?: Date; collectionIds?: string[]; callbackUrl?: string },
): Promise<{ backup: BackupRow; job: JobRow | undefined }> {
  const at = input.at ?? new Date();
  const id = newBackupId(at, input.trigger, randomBytes(3).toString("hex"));
  if (input.collectionIds) {
    const active = new Set((await deps.collections.listAllActive()).map((c) => c.id));
    const missing = input.collectionIds.filter((c) => !active.has(c));
    if (missing.length > 0) throw new AppError("COLLECTION_NOT_FOUND", `no active collection ${missing.join(", ")}`, { httpStatus: 404 });
  }
  return acceptWork(deps, async (tx) => {
    await tx.client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", [id]);
    const existing = await tx.backups.get(id);
    if (existing) return { backup: existing, job: undefined };
    const job = await recordJob(deps, tx, {
      name: "create_backup",
      tenantId: OPS_TENANT,
      payload: { backup_id: id, trigger: input.trigger, collection_ids: input.collectionIds, created_at: at.toISOString() },
      callbackUrl: input.callbackUrl,
    });
    await tx.backups.insert({ id, trigger: input.trigger, jobId: job.id, collectionIds: input.collectionIds });
    return { backup: (await tx.backups.get(id))!, job };
  });
}

/**
 * Every backup: those this installation recorded (running, failed, succeeded) and every published
 * one in storage (also those taken by another installation, or before Postgres was lost). Newest first.
 */
export async function listBackups(deps: Deps): Promise<BackupView[]> {
  const [rows, stored] = await Promise.all([deps.backups.list(), deps.backupStorage.list().catch(storageFault)]);
  const views = new Map<string, BackupView>();
  for (const row of rows) views.set(row.id, presentBackupRow(row));
  for (const { id, manifest } of stored) {
    const parsed = parseQuarryManifest(manifest);
    if (!parsed.ok) continue;
    const m = parsed.manifest;
    const row = views.get(id);
    views.set(id, {
      id,
      trigger: m.trigger,
      scope: m.scope,
      // Published means complete, whatever a stale row says.
      status: "succeeded",
      created_at: m.createdAt,
      finished_at: row?.finished_at ?? null,
      size_bytes: manifestSize(m),
      collections: m.collections.map((c) => ({ id: c.id, tenant_id: c.tenant_id, name: c.name, documents: c.documents, chunks: c.chunks, points: c.points })),
      checksum: manifestChecksum(manifest, id),
      retention_class: null,
      job_id: row?.job_id ?? null,
    });
  }
  const list = [...views.values()];
  const plan = planBackupRetention(
    deps,
    list.map((v) => ({ id: v.id, createdAt: new Date(v.created_at), status: v.status, published: v.status === "succeeded", partial: v.scope === "some" })),
  );
  for (const view of list) view.retention_class = view.status === "succeeded" ? (plan.keep.get(view.id) ?? null) : null;
  return list.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? 1 : -1));
}

/** A backup as Postgres knows it (retention is not worked out: see `listBackups`). */
export function presentBackupRow(row: BackupRow): BackupView {
  return {
    id: row.id,
    trigger: row.trigger,
    scope: row.collection_ids ? "some" : "all",
    status: row.status,
    created_at: row.created_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
    size_bytes: row.size_bytes,
    collections: row.collections ?? [],
    checksum: row.checksum,
    retention_class: null,
    job_id: row.job_id,
    ...(row.error ? { error: row.error } : {}),
  };
}

/** The backup storage failed to answer a request: 503 when it may work later, 502 when it refused. */
function storageFault(err: unknown): never {
  if (!isBackupStorageError(err)) throw err;
  if (err.retryable) throw new AppError(err.code, err.message, { httpStatus: 503, retryAfter: 30, retryable: true });
  throw new AppError(err.code, err.message, { httpStatus: 502 });
}

export async function getBackup(deps: Deps, id: string): Promise<BackupView> {
  // Running and failed backups are Postgres's alone: no need to ask storage (which may be what failed).
  const row = await deps.backups.get(id);
  if (row && row.status !== "succeeded") return presentBackupRow(row);
  const found = (await listBackups(deps)).find((b) => b.id === id);
  if (!found) throw new AppError("BACKUP_NOT_FOUND", `backup ${id} not found`, { httpStatus: 404 });
  return found;
}

/** Checks what can be checked before any work (the backup exists, holds the collections, fits this store), then queues the restore. */
export async function requestRestore(deps: Deps, backupId: string, input: { collectionIds?: string[]; asNewCollection: boolean; callbackUrl?: string }): Promise<JobRow> {
  const manifest = await readBackupManifest(deps.backupStorage, backupId).catch((err: unknown) => {
    if (err instanceof AppError && err.code !== "BACKUP_NOT_FOUND") throw new AppError(err.code, err.message, { httpStatus: 422 });
    return storageFault(err);
  });
  try {
    selectBackupCollections(manifest, input.collectionIds);
  } catch (err) {
    throw new AppError((err as AppError).code, (err as Error).message, { httpStatus: 422 });
  }
  if (manifest.store.kind !== deps.vectorStore.kind) {
    throw new AppError("RESTORE_STORE_MISMATCH", `backup ${backupId} holds ${manifest.store.kind} vectors; this installation uses the ${deps.vectorStore.kind} store`, { httpStatus: 422 });
  }
  return acceptWork(deps, (tx) =>
    recordJob(deps, tx, {
      name: "restore_backup",
      tenantId: OPS_TENANT,
      payload: { backup_id: backupId, collection_ids: input.collectionIds, as_new_collection: input.asNewCollection },
      callbackUrl: input.callbackUrl,
    }),
  );
}

/**
 * Applies retention: deletes the published backups the policy does not keep (with their rows),
 * the rows of failed backups it does not keep, and folders a crashed backup left over a day ago.
 */
export async function pruneBackups(deps: Deps): Promise<{ kept: number; pruned: string[]; incomplete_removed: string[] }> {
  const [candidates, inUse] = await Promise.all([retentionCandidates(deps), backupsBeingRestored(deps)]);
  const plan = planBackupRetention(deps, candidates);
  const pruned = plan.prune.filter((id) => !inUse.has(id));
  for (const id of pruned) {
    if (candidates.find((c) => c.id === id)?.published) await deps.backupStorage.delete(id);
  }
  await deps.backups.remove(pruned);
  const running = new Set(candidates.filter((c) => c.status === "running").map((c) => c.id));
  const stale = (await deps.backupStorage.listIncomplete(new Date(Date.now() - 24 * 3600_000))).filter((b) => !running.has(b.id));
  for (const b of stale) await deps.backupStorage.delete(b.id);
  const result = { kept: candidates.length - pruned.length, pruned, incomplete_removed: stale.map((b) => b.id) };
  deps.logger.info(result, "backup retention applied");
  return result;
}

interface RetentionCandidate {
  id: string;
  createdAt: Date;
  status: BackupRow["status"];
  published: boolean;
  /** Of some collections only (a manual backup with collection_ids). */
  partial: boolean;
}

/**
 * Every backup retention decides on: Postgres's rows and storage's published backups. A published
 * manifest Quarry cannot read (another tool's folder, a newer format) is left alone entirely.
 */
async function retentionCandidates(deps: Deps): Promise<RetentionCandidate[]> {
  const [rows, stored] = await Promise.all([deps.backups.list(100_000), deps.backupStorage.list().catch(storageFault)]);
  const all = new Map<string, RetentionCandidate>();
  const published = new Set(stored.map((s) => s.id));
  for (const row of rows) {
    // A row that says succeeded but whose manifest is gone from storage is no restore point.
    const status = published.has(row.id) ? "succeeded" : row.status === "succeeded" ? "failed" : row.status;
    all.set(row.id, { id: row.id, createdAt: row.created_at, status, published: false, partial: row.collection_ids !== null });
  }
  for (const { id, manifest } of stored) {
    const parsed = parseQuarryManifest(manifest);
    if (!parsed.ok) {
      all.delete(id);
      continue;
    }
    all.set(id, { id, createdAt: new Date(parsed.manifest.createdAt), status: "succeeded", published: true, partial: parsed.manifest.scope === "some" });
  }
  return [...all.values()];
}

/** Backups a queued or running restore reads: never pruned from under it. */
async function backupsBeingRestored(deps: Deps): Promise<Set<string>> {
  const { rows } = await deps.db.query<{ backup_id: string }>(
    `SELECT DISTINCT payload->>'backup_id' AS backup_id FROM jobs WHERE type = 'restore_backup' AND status IN ('queued', 'running')`,
  );
  return new Set(rows.map((r) => r.backup_id));
}

/**
 * Grandfather-father-son over the backups of every collection; a backup of some collections only
 * never takes one of their slots (it would push a complete backup out) and is kept
 * `BACKUP_KEEP_DAILY` days (at least one).
 */
function planBackupRetention(deps: Deps, candidates: RetentionCandidate[]): { keep: Map<string, RetentionClass>; prune: string[] } {
  const full = candidates.filter((c) => !c.partial);
  const plan = planRetention(full, retentionPolicy(deps.config));
  const keep = new Map<string, RetentionClass>();
  for (const [id, reasons] of plan.keep) {
    const best = RETENTION_ORDER.find((r) => reasons.includes(r));
    if (best) keep.set(id, best);
  }
  const prune = [...plan.prune];
  const partialFor = Math.max(1, deps.config.BACKUP_KEEP_DAILY) * 24 * 3600_000;
  for (const c of candidates.filter((c) => c.partial)) {
    if (c.status === "running" || Date.now() - c.createdAt.getTime() < partialFor) {
      if (c.status === "succeeded") keep.set(c.id, "partial");
    } else prune.push(c.id);
  }
  return { keep, prune };
}
