import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { v5 as uuidv5 } from "uuid";
import { hashingStream, type BackupStorage } from "../backup-storage/backup-storage.ts";
import type { Deps } from "../deps.ts";
import { withTransaction } from "../db/transaction.ts";
import { AppError, permanent } from "../errors/app-error.ts";
import type { CollectionRef } from "../vector-store/vector-store.ts";
import { parseQuarryManifest, type BackupCollection, type QuarryManifest } from "./backup-manifest.ts";
import { CollectionRecordsError, deleteCollectionRecords, importCollectionRecords } from "./collection-records.ts";

/** Namespace of the ids a restore beside the original gives: uuid v5 of `<backup id>:<collection id>`. */
const RESTORED_COLLECTION_NAMESPACE = "2d7f6c1e-3b8a-4f5d-9e0c-7a1b4c6d8e2f";

export interface RestoreInput {
  jobId: string;
  backupId: string;
  /** Only these collections of the backup; all of them when absent. */
  collectionIds?: string[];
  /** Restore beside the live collections, as new ones, instead of replacing them. */
  asNewCollection: boolean;
  checkpoint(): Promise<void>;
  progress(percent: number): Promise<void>;
}

export interface RestoredCollection {
  /** The collection's id in the backup. */
  id: string;
  /** Where it was restored: the same id in place, a new one beside it. */
  restored_as: string;
  name: string;
  documents: number;
  chunks: number;
  points: number;
}

type RestoreDeps = Pick<Deps, "db" | "collections" | "jobs" | "vectorStore" | "logger"> & { backupStorage: BackupStorage };

interface Plan {
  entry: BackupCollection;
  dir: string;
  target: CollectionRef & { version: number };
  /** In place: the generation searches read now (dropped after the switch); undefined when none exists. */
  liveVersion?: number;
  name: string;
  /** The backup's documents (as backed up) → their chunks, read once from the records file. */
  chunks: Map<string, number>;
  documentIds?: Map<string, string>;
}

/** The backup's manifest, read as Quarry's; BACKUP_NOT_FOUND or BACKUP_INVALID otherwise. */
export async function readBackupManifest(storage: BackupStorage, backupId: string): Promise<QuarryManifest> {
  const stored = await storage.readManifest(backupId).catch((err: unknown) => {
    const code = (err as { code?: string }).code;
    if (code === "BACKUP_INVALID_ID") return null;
    if (code === "BACKUP_MANIFEST_INVALID") throw permanent("BACKUP_INVALID", (err as Error).message);
    throw err;
  });
  if (!stored) throw new AppError("BACKUP_NOT_FOUND", `backup ${backupId} not found (or not complete)`, { httpStatus: 404 });
  const parsed = parseQuarryManifest(stored);
  if (!parsed.ok) throw permanent("BACKUP_INVALID", `backup ${backupId}: ${parsed.reason}`);
  return parsed.manifest;
}

/** The collections of `manifest` a restore of `ids` covers; COLLECTION_NOT_IN_BACKUP names any other. */
export function selectBackupCollections(manifest: QuarryManifest, ids?: string[]): BackupCollection[] {
  if (!ids) return manifest.collections;
  const missing = ids.filter((id) => !manifest.collections.some((c) => c.id === id));
  if (missing.length > 0) throw permanent("COLLECTION_NOT_IN_BACKUP", `backup ${manifest.id} holds no collection ${missing.join(", ")}`);
  return manifest.collections.filter((c) => ids.includes(c.id));
}

/**
 * Restores collections from a backup. In order, and nothing live changes before step 4:
 *
 * 1. Downloads every file of the chosen collections and checks its size and sha256 against the
 *    manifest (BACKUP_CORRUPT names the first that differs).
 * 2. In place: holds the live collections (uploads, re-embeds, document deletions answer 409).
 * 3. Loads each collection's vectors into a new generation nobody reads (in place: the live one
 *    + 1; beside: a new collection id), removes points of documents the records do not hold, and
 *    checks that every restored document has exactly its chunks' points.
 * 4. One Postgres transaction switches every collection at once: the live records are replaced by
 *    the backup's (documents uploaded after the backup are dropped), pointing at the new generation.
 * 5. Drops the generations the live collections used before.
 *
 * Killed or failed before step 4, the live data is exactly as it was and the restore can run again;
 * a rerun clears what an earlier attempt left in step 3.
 */
export async function restoreBackup(deps: RestoreDeps, input: RestoreInput): Promise<{ backup_id: string; collections: RestoredCollection[] }> {
  // An earlier attempt of this job that switched over (then crashed or failed) is done but for its
  // clean-up: running it again would undo what was written since.
  const switched = await switchedBefore(deps, input.jobId);
  if (switched) {
    await dropOldGenerations(deps, switched.old_generations);
    return { backup_id: switched.backup_id, collections: switched.collections };
  }
  const manifest = await readBackupManifest(deps.backupStorage, input.backupId);
  if (manifest.store.kind !== deps.vectorStore.kind) {
    throw permanent(
      "RESTORE_STORE_MISMATCH",
      `backup ${manifest.id} holds ${manifest.store.kind} vectors and this installation uses the ${deps.vectorStore.kind} store; restore it on an installation with the ${manifest.store.kind} store (then npm run vectors:copy-to-qdrant, for embedded → Qdrant)`,
    );
  }
  const chosen = selectBackupCollections(manifest, input.collectionIds);
  const targets = chosen.map((c) => (input.asNewCollection ? besideId(manifest.id, c.id) : c.id));
  const work = await mkdtemp(path.join(tmpdir(), "quarry-restore-"));
  const releaseLocks = await lockTargets(deps, targets).catch(async (err: unknown) => {
    await rm(work, { recursive: true, force: true });
    throw err;
  });
  const plans: Plan[] = [];
  let result: SwitchRecord;
  try {
    await download(deps.backupStorage, manifest, chosen, work, input);
    await input.progress(30);
    if (!input.asNewCollection) await hold(deps, chosen, input.jobId);
    for (const entry of chosen) plans.push(await plan(deps, manifest, entry, path.join(work, entry.id), input.asNewCollection));
    for (const [i, p] of plans.entries()) {
      await input.checkpoint();
      await loadVectors(deps, p);
      await input.progress(30 + Math.floor(((i + 1) / plans.length) * 50));
    }
    await input.checkpoint();
    result = await switchOver(deps, plans, input, manifest.id);
    await input.progress(95);
  } catch (err) {
    // The generations this attempt wrote and nothing reads: gone, so a failed restore leaves no trace.
    for (const p of plans) await dropUnswitched(deps, p).catch((dropErr: unknown) => deps.logger.warn({ err: dropErr, collectionId: p.target.collectionId }, "could not drop a restore's unused generation"));
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
    await releaseLocks();
  }
  await dropOldGenerations(deps, result.old_generations);
  return { backup_id: result.backup_id, collections: result.collections };
}

/** What the switch-over wrote into the job's record, in its own transaction. */
interface SwitchRecord {
  switched: true;
  backup_id: string;
  collections: RestoredCollection[];
  /** The generations the live collections read before: dropped after the switch (again, on a rerun). */
  old_generations: Array<{ tenantId: string; collectionId: string; version: number }>;
}

async function switchedBefore(deps: RestoreDeps, jobId: string): Promise<SwitchRecord | undefined> {
  const job = await deps.jobs.findById(jobId);
  const result = job?.result as Partial<SwitchRecord> | null | undefined;
  return result?.switched === true ? (result as SwitchRecord) : undefined;
}

async function dropOldGenerations(deps: RestoreDeps, generations: SwitchRecord["old_generations"]): Promise<void> {
  for (const ref of generations) await deps.vectorStore.dropCollection(ref);
}

/**
 * One restore at a time per target collection, across processes (two requests for the same
 * backup, two restores by hand): a session-level advisory lock on a connection of its own, held
 * for the whole restore. A second one fails at once with COLLECTION_BUSY.
 */
async function lockTargets(deps: RestoreDeps, ids: string[]): Promise<() => Promise<void>> {
  const client = await deps.db.connect();
  const taken: string[] = [];
  const release = async () => {
    for (const id of taken) await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 7))", [`restore:${id}`]).catch(() => undefined);
    client.release();
  };
  for (const id of [...ids].sort()) {
    const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 7)) AS ok", [`restore:${id}`]);
    if (!rows[0]!.ok) {
      await release();
      throw permanent("COLLECTION_BUSY", `collection ${id} is being restored by another job or process; try again when it has ended`);
    }
    taken.push(id);
  }
  return release;
}

async function download(storage: BackupStorage, manifest: QuarryManifest, chosen: BackupCollection[], work: string, input: RestoreInput): Promise<void> {
  for (const entry of chosen) {
    const prefix = `collections/${entry.id}/`;
    const files = manifest.files.filter((f) => f.name.startsWith(prefix));
    if (!files.some((f) => f.name === entry.records)) throw permanent("BACKUP_CORRUPT", `backup ${manifest.id}: the manifest lists no records file for collection ${entry.id}`);
    for (const file of files) {
      await input.checkpoint();
      const target = path.join(work, entry.id, ...file.name.slice(prefix.length).split("/"));
      await mkdir(path.dirname(target), { recursive: true });
      const source = await storage.readFile(manifest.id, file.name).catch((err: unknown) => {
        if ((err as { code?: string }).code === "BACKUP_FILE_NOT_FOUND") throw permanent("BACKUP_CORRUPT", `backup ${manifest.id}: file ${file.name} is missing`);
        throw err;
      });
      const hash = hashingStream();
      await pipeline(source, hash.stream, createWriteStream(target));
      const actual = hash.result();
      if (actual.size !== file.size || actual.sha256 !== file.sha256) {
        throw permanent(
          "BACKUP_CORRUPT",
          `backup ${manifest.id}: file ${file.name} does not match its manifest (${actual.size} bytes, sha256 ${actual.sha256}; expected ${file.size} bytes, sha256 ${file.sha256}); nothing was changed`,
        );
      }
    }
  }
}

async function hold(deps: RestoreDeps, chosen: BackupCollection[], jobId: string): Promise<void> {
  const ids = chosen.map((c) => c.id);
  await withTransaction(deps.db, async (tx) => {
    const deleting = (await Promise.all(ids.map((id) => tx.collections.findById(id)))).filter((c) => c?.status === "deleting");
    if (deleting.length > 0) {
      throw permanent("COLLECTION_BUSY", `collection ${deleting.map((c) => c!.id).join(", ")} is being deleted; restore it once the deletion job has ended`);
    }
    for (const id of ids) {
      // The clean-up of an ended re-embed drops a generation; document deletions accepted before the
      // hold would remove rows the switch restores. Both are short: try again in a few seconds.
      if (await tx.outbox.pendingFor(id, "reembed_collection")) {
        throw new AppError("COLLECTION_BUSY", `collection ${id}: an ended re-embed is still being cleaned up; try again in a few seconds`, { retryable: true, httpStatus: 409 });
      }
      if ((await tx.documents.countDeleting(id)) > 0) {
        throw new AppError("COLLECTION_BUSY", `collection ${id}: documents are still being deleted; try again when their jobs have ended`, { retryable: true, httpStatus: 409 });
      }
    }
    const { busy } = await tx.collections.holdForRestore(ids, jobId);
    if (busy.length > 0) {
      throw permanent("COLLECTION_BUSY", busy.map((b) => `collection ${b.id} is being ${b.reason === "reembedding" ? "re-embedded" : "restored by another job"}`).join("; "));
    }
  });
}

async function plan(deps: RestoreDeps, manifest: QuarryManifest, entry: BackupCollection, dir: string, asNew: boolean): Promise<Plan> {
  const chunks = await documentChunks(path.join(dir, "records.ndjson.gz"));
  if (asNew) {
    const id = besideId(manifest.id, entry.id);
    if (await deps.collections.findById(id)) throw permanent("RESTORE_TARGET_EXISTS", `collection ${entry.id} of backup ${manifest.id} was already restored beside the original, as ${id}`);
    const documentIds = new Map([...chunks.keys()].map((documentId) => [documentId, uuidv5(documentId, id)]));
    return { entry, dir, target: { tenantId: entry.tenant_id, collectionId: id, version: 0 }, name: restoredName(entry.name, manifest.id), chunks, documentIds };
  }
  const live = await deps.collections.findById(entry.id);
  const liveVersion = live?.vector_version;
  // Two past the live generation: live + 1 is a re-embed's, whose late batches or clean-up may still
  // write or drop it.
  return { entry, dir, target: { tenantId: entry.tenant_id, collectionId: entry.id, version: (liveVersion ?? entry.vector_version) + 2 }, liveVersion, name: entry.name, chunks };
}

/** The id a collection restored beside its original gets: the same for every attempt. */
const besideId = (backupId: string, collectionId: string) => uuidv5(`${backupId}:${collectionId}`, RESTORED_COLLECTION_NAMESPACE);

/** `<name> (restored <backup id>)`, within the 200 characters a collection name may have. */
export function restoredName(name: string, backupId: string): string {
  const suffix = ` (restored ${backupId})`;
  return `${name.slice(0, 200 - suffix.length)}${suffix}`;
}

async function loadVectors(deps: RestoreDeps, p: Plan): Promise<void> {
  const { vectorStore } = deps;
  await vectorStore.dropCollection(p.target); // what an interrupted attempt left
  if (p.entry.vectors === null) {
    await vectorStore.ensureCollection(p.target, p.entry.embedding.dimensions);
    return;
  }
  await vectorStore.restore(p.target, path.join(p.dir, "vectors"), p.documentIds ? { documentIds: p.documentIds } : {});
  // Qdrant snapshots hold the whole collection: drop the points of documents the records do not hold.
  const expected = new Map([...p.chunks].map(([documentId, chunks]) => [p.documentIds?.get(documentId) ?? documentId, chunks]));
  const counts = await vectorStore.documentCounts(p.target);
  for (const documentId of counts.keys()) {
    if (!expected.has(documentId)) await vectorStore.deleteDocument(p.target, documentId);
  }
  for (const [documentId, chunks] of expected) {
    const points = counts.get(documentId) ?? 0;
    if (points !== chunks) throw permanent("BACKUP_CORRUPT", `collection ${p.entry.id}: document ${documentId} has ${chunks} chunks in the backup and ${points} vectors; nothing was changed`);
  }
}

/** Document id → its chunk count, from a records file's document lines. */
async function documentChunks(recordsFile: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const lines = createInterface({ input: createReadStream(recordsFile).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.startsWith('{"type":"document"')) continue;
    const doc = JSON.parse(line) as { id: string; chunks: number };
    out.set(doc.id, doc.chunks);
  }
  return out;
}

async function switchOver(deps: RestoreDeps, plans: Plan[], input: RestoreInput, backupId: string): Promise<SwitchRecord> {
  return withTransaction(deps.db, async (tx) => {
    for (const p of plans) {
      const records = createReadStream(path.join(p.dir, "records.ndjson.gz"));
      try {
        if (input.asNewCollection) {
          await importCollectionRecords(tx, records, { asCollectionId: p.target.collectionId, newName: p.name, vectorVersion: p.target.version });
          continue;
        }
        const live = await tx.collections.findById(p.entry.id);
        const gone = !live && p.liveVersion !== undefined;
        if (gone || (live && (live.status !== "active" || live.restore_job_id !== input.jobId))) {
          throw permanent("RESTORE_SUPERSEDED", `collection ${p.entry.id} was deleted or taken over while it was being restored; nothing was changed`);
        }
        await deleteCollectionRecords(tx, p.entry.id);
        await importCollectionRecords(tx, records, { vectorVersion: p.target.version });
        // Still held until the job ends (its end releases it): a rerun must find nothing new to undo.
        await tx.client.query("UPDATE collections SET restore_job_id = $2 WHERE id = $1", [p.entry.id, input.jobId]);
      } catch (err) {
        if (err instanceof CollectionRecordsError) throw permanent(err.code === "BACKUP_INVALID" ? "BACKUP_CORRUPT" : err.code, err.message);
        throw err;
      } finally {
        records.destroy();
      }
    }
    const record: SwitchRecord = {
      switched: true,
      backup_id: backupId,
      collections: plans.map((p) => ({ id: p.entry.id, restored_as: p.target.collectionId, name: p.name, documents: p.entry.documents, chunks: p.entry.chunks, points: p.entry.points })),
      old_generations: plans.flatMap((p) => (p.liveVersion !== undefined && p.liveVersion !== p.target.version ? [{ tenantId: p.target.tenantId, collectionId: p.target.collectionId, version: p.liveVersion }] : [])),
    };
    // In the same transaction: a rerun of this job after a crash sees that it switched (restores by hand have no job row).
    await tx.client.query("UPDATE jobs SET result = $2::jsonb, updated_at = now() WHERE id = $1 AND status = 'running'", [input.jobId, JSON.stringify(record)]);
    return record;
  });
}

async function dropUnswitched(deps: RestoreDeps, p: Plan): Promise<void> {
  const live = await deps.collections.findById(p.target.collectionId);
  // Switched after all (the failure came later), or the generation is someone else's now.
  if (live && live.vector_version === p.target.version) return;
  if (live?.reembed_job_id) return;
  await deps.vectorStore.dropCollection(p.documentIds && !live ? { tenantId: p.target.tenantId, collectionId: p.target.collectionId } : p.target);
}
