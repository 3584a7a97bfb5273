import { mkdir, mkdtemp, open, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BackupFileEntry, BackupStorage } from "../backup-storage/backup-storage.ts";
import type { CollectionRow } from "../db/collections.repository.ts";
import type { Deps } from "../deps.ts";
import { AppError, permanent } from "../errors/app-error.ts";
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, parseQuarryManifest, QUARRY_VERSION, type BackupCollection, type QuarryManifest } from "./backup-manifest.ts";
import { exportCollectionRecords } from "./collection-records.ts";

/** How often one collection is read again when its vectors and records did not agree. */
const CONSISTENCY_TRIES = 3;

export interface TakeBackupInput {
  backupId: string;
  trigger: "scheduled" | "manual";
  /** Only these collections; every active collection when absent. */
  collectionIds?: string[];
  createdAt: Date;
  /** Throws when the job was cancelled. */
  checkpoint(): Promise<void>;
  progress(percent: number): Promise<void>;
}

type BackupDeps = Pick<Deps, "db" | "collections" | "vectorStore" | "logger"> & { backupStorage: BackupStorage };

/**
 * Takes one backup: per collection, its records (one Postgres snapshot) and then its vectors,
 * checked against each other; every file written, read back and verified; the manifest published
 * last. Until then the backup does not exist for `list()` or a restore.
 *
 * **Why the records and vectors agree.** The records are read first, in one REPEATABLE READ
 * snapshot: the ready documents and their chunks. A document's vectors are written before it
 * becomes ready, and the points of a ready document are only ever removed (deleted, or its
 * generation dropped after a re-embed), never re-added. So the vectors read next hold every point of
 * every exported document unless one was removed in between, and the snapshot's own per-document
 * counts tell: any shortfall reads the collection again (up to 3 times, then the backup fails with
 * BACKUP_INCONSISTENT). Points of documents still being ingested are left out (the embedded store)
 * or removed by the restore (Qdrant). No lock is taken: ingestion and search never wait for a backup.
 */
export async function takeBackup(deps: BackupDeps, input: TakeBackupInput): Promise<QuarryManifest> {
  // An attempt that published and died before its job ended: the backup is complete.
  const published = await deps.backupStorage.readManifest(input.backupId);
  if (published) {
    const parsed = parseQuarryManifest(published);
    if (parsed.ok) return parsed.manifest;
  }
  // Files an interrupted attempt stored (LanceDB names its files at random, so none is overwritten).
  await deps.backupStorage.delete(input.backupId);
  const collections = await selectCollections(deps, input.collectionIds);
  const work = await mkdtemp(path.join(tmpdir(), "quarry-backup-"));
  const files: BackupFileEntry[] = [];
  const entries: BackupCollection[] = [];
  try {
    for (const [i, collection] of collections.entries()) {
      await input.checkpoint();
      const dir = path.join(work, collection.id);
      const taken = await backupCollection(deps, collection, dir);
      if (!taken) continue; // deleted meanwhile: not part of this backup
      const prefix = `collections/${collection.id}`;
      for (const relative of await filesUnder(dir)) {
        files.push(await writeVerified(deps.backupStorage, input.backupId, `${prefix}/${relative}`, path.join(dir, relative)));
      }
      entries.push({ ...taken, records: `${prefix}/records.ndjson.gz`, vectors: taken.vectors === null ? null : `${prefix}/vectors/` });
      await rm(dir, { recursive: true, force: true });
      await input.progress(Math.floor(((i + 1) / collections.length) * 95));
    }
    const manifest: QuarryManifest = {
      format: BACKUP_FORMAT,
      format_version: BACKUP_FORMAT_VERSION,
      id: input.backupId,
      createdAt: input.createdAt.toISOString(),
      trigger: input.trigger,
      scope: input.collectionIds ? "some" : "all",
      quarry_version: QUARRY_VERSION,
      store: { kind: deps.vectorStore.kind },
      collections: entries,
      files,
    };
    await input.checkpoint();
    await deps.backupStorage.publishManifest(input.backupId, manifest);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function selectCollections(deps: BackupDeps, ids?: string[]): Promise<CollectionRow[]> {
  const active = await deps.collections.listAllActive();
  if (!ids) return active;
  const wanted = new Set(ids);
  const found = active.filter((c) => wanted.has(c.id));
  const missing = ids.filter((id) => !found.some((c) => c.id === id));
  if (missing.length > 0) throw permanent("COLLECTION_NOT_FOUND", `no active collection ${missing.join(", ")}`);
  return found;
}

/** Writes the collection's records and vectors into `dir`; undefined when the collection is gone. */
async function backupCollection(deps: BackupDeps, collection: CollectionRow, dir: string): Promise<Omit<BackupCollection, "records" | "vectors"> & { vectors: string | null } | undefined> {
  for (let attempt = 1; ; attempt++) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const vectorsDir = path.join(dir, "vectors");
    // Opened before the export starts, so an error opening it is this call's, not an unheard event.
    const file = await open(path.join(dir, "records.ndjson.gz"), "w");
    const records = await exportCollectionRecords(deps.db, collection.id, file.createWriteStream({ flush: true })).catch(
      async (err: unknown) => {
        if ((err as { code?: string }).code === "NOT_FOUND") return undefined;
        throw err;
      },
    );
    if (!records) return undefined;
    const base = {
      id: collection.id,
      tenant_id: records.collection.tenantId,
      name: records.collection.name,
      embedding: records.collection.embedding,
      vector_version: records.collection.vectorVersion,
      documents: records.documents,
      chunks: records.chunks,
      pg_snapshot: records.snapshot,
      read_at: records.readAt,
    };
    if (records.documents === 0) return { ...base, points: 0, vectors: null };
    const ref = { tenantId: records.collection.tenantId, collectionId: collection.id, version: records.collection.vectorVersion };
    const problem: { points: number } | { reason: string } = await deps.vectorStore.snapshot(ref, vectorsDir, { documents: new Set(records.documentChunks.keys()) }).then(
      (snapshot): { points: number } | { reason: string } => {
        for (const [documentId, chunks] of records.documentChunks) {
          const points = snapshot.documents.get(documentId) ?? 0;
          if (points !== chunks) return { reason: `document ${documentId} has ${chunks} chunks and ${points} vectors` };
        }
        return { points: records.chunks };
      },
      (err: unknown) => {
        // An outage is the job's to retry with backoff; anything else means the generation was
        // dropped meanwhile (a re-embed switched over, the collection was deleted).
        if (err instanceof AppError && err.retryable) throw err;
        const message = (err as Error).message ?? String(err);
        if (!/not found|has no table|does not exist/i.test(message)) throw err; // a full disk, a bug: not changed data
        return { reason: `reading the vectors failed: ${message}` };
      },
    );
    if ("points" in problem) return { ...base, points: problem.points, vectors: "vectors" };
    deps.logger.info({ collectionId: collection.id, attempt, reason: problem.reason }, "collection changed while it was backed up; reading it again");
    if (attempt >= CONSISTENCY_TRIES) {
      const still = await deps.collections.findById(collection.id);
      if (!still || still.status !== "active") return undefined;
      throw permanent("BACKUP_INCONSISTENT", `collection ${collection.id} kept changing while it was backed up (${problem.reason}); try again later`);
    }
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort();
}

/** Stores a file, then reads it back from storage and checks it before it may be listed in a manifest. */
async function writeVerified(storage: BackupStorage, backupId: string, name: string, file: string): Promise<BackupFileEntry> {
  const entry = await storage.writeFile(backupId, name, { path: file });
  const check = await storage.verifyFile(backupId, name, entry);
  if (!check.ok) throw new Error(`backup file ${name} did not verify after it was written (${check.reason})`);
  return entry;
}
