import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, type Dirent } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import {
  alreadyPublished,
  assertBackupId,
  assertFileName,
  BackupStorageError,
  fileNotFound,
  hashingStream,
  isBackupId,
  isBackupStorageError,
  MANIFEST_NAME,
  manifestFromText,
  newestFirst,
  manifestText,
  verifyStream,
  type BackupFileEntry,
  type BackupManifest,
  type BackupSource,
  type BackupStorage,
  type IncompleteBackup,
  type StoredBackup,
  type VerifyResult,
} from "./backup-storage.ts";

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === "ENOENT";

/** A name no valid file name can take (those never start with a dot), for writes in progress. */
const tempName = (finalPath: string) => path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.${randomBytes(6).toString("hex")}.tmp`);

async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Backups as folders under a root directory (`BACKUP_DIR`): `<root>/<backupId>/<name>` and
 * `<root>/<backupId>/manifest.json`. Every file is written under a temporary dot-name, fsynced and
 * renamed into place, so a crash mid-write never leaves a partial file under its final name; the
 * manifest is published the same way after the backup's folders are fsynced, so a published
 * manifest never points at data still in the page cache.
 */
export class LocalBackupStorage implements BackupStorage {
  readonly kind = "local" as const;
  readonly location: string;
  private readonly root: string;

  constructor(options: { dir: string }) {
    this.root = path.resolve(options.dir);
    this.location = this.root;
  }

  private dirOf(backupId: string): string {
    assertBackupId(backupId);
    return path.join(this.root, backupId);
  }

  private fileOf(backupId: string, name: string): string {
    assertFileName(name);
    return path.join(this.dirOf(backupId), ...name.split("/"));
  }

  private async published(backupId: string): Promise<boolean> {
    return stat(path.join(this.dirOf(backupId), MANIFEST_NAME)).then(
      () => true,
      (err: unknown) => (isMissing(err) ? false : Promise.reject(err)),
    );
  }

  async writeFile(backupId: string, name: string, source: BackupSource): Promise<BackupFileEntry> {
    const finalPath = this.fileOf(backupId, name);
    if (await this.published(backupId)) throw alreadyPublished(backupId);
    await mkdir(path.dirname(finalPath), { recursive: true });
    const temp = tempName(finalPath);
    const hashing = hashingStream();
    try {
      const input = "path" in source ? createReadStream(source.path) : source;
      // flush: fsync before close, so the rename below never points at bytes still in the page cache.
      await pipeline(input, hashing.stream, createWriteStream(temp, { flags: "wx", flush: true }));
      await rename(temp, finalPath);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    return { name, ...hashing.result() };
  }

  async readFile(backupId: string, name: string): Promise<NodeJS.ReadableStream> {
    const file = this.fileOf(backupId, name);
    const handle = await open(file, "r").catch((err: unknown) => Promise.reject(isMissing(err) ? fileNotFound(backupId, name) : err));
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw fileNotFound(backupId, name);
    }
    return handle.createReadStream();
  }

  async verifyFile(backupId: string, name: string, expected: { sha256: string; size: number }): Promise<VerifyResult> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.readFile(backupId, name);
    } catch (err) {
      if (isBackupStorageError(err, "BACKUP_FILE_NOT_FOUND")) return { ok: false, reason: "missing" };
      throw err;
    }
    return verifyStream(stream, expected);
  }

  async publishManifest(backupId: string, manifest: BackupManifest): Promise<void> {
    const dir = this.dirOf(backupId);
    const body = manifestText(manifest, backupId);
    const existing = await readFile(path.join(dir, MANIFEST_NAME), "utf8").catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
    if (existing !== null) {
      if (existing === body) return;
      throw alreadyPublished(backupId);
    }
    const dirs = new Set<string>([dir]);
    for (const file of manifest.files) {
      const filePath = this.fileOf(backupId, file.name);
      const stats = await stat(filePath).catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
      if (!stats?.isFile() || stats.size !== file.size) {
        throw new BackupStorageError("BACKUP_FILE_MISSING", `backup ${backupId}: ${file.name} is ${stats?.isFile() ? `${stats.size} bytes, not ${file.size}` : "not stored"}`);
      }
      for (let d = path.dirname(filePath); d.startsWith(dir); d = path.dirname(d)) dirs.add(d);
    }
    // The renames that put the files in place must be durable before the manifest says they are there.
    for (const d of dirs) await fsyncPath(d);
    const target = path.join(dir, MANIFEST_NAME);
    const temp = tempName(target);
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(body, "utf8");
      await handle.sync();
      await handle.close();
      await rename(temp, target);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await fsyncPath(dir);
  }

  async readManifest(backupId: string): Promise<BackupManifest | null> {
    const file = path.join(this.dirOf(backupId), MANIFEST_NAME);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    return manifestFromText(text, backupId);
  }

  private async backupDirs(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    return entries.filter((e) => e.isDirectory() && isBackupId(e.name)).map((e) => e.name);
  }

  async list(): Promise<StoredBackup[]> {
    const found: StoredBackup[] = [];
    for (const id of await this.backupDirs()) {
      const manifest = await this.readManifest(id).catch((err: unknown) => {
        if (isBackupStorageError(err, "BACKUP_MANIFEST_INVALID")) return null;
        throw err;
      });
      if (manifest) found.push({ id, manifest });
    }
    return found.sort(newestFirst);
  }

  async delete(backupId: string): Promise<void> {
    const dir = this.dirOf(backupId);
    try {
      await unlink(path.join(dir, MANIFEST_NAME));
      await fsyncPath(dir);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    await rm(dir, { recursive: true, force: true });
  }

  async listIncomplete(olderThan: Date): Promise<IncompleteBackup[]> {
    const found: IncompleteBackup[] = [];
    for (const id of await this.backupDirs()) {
      const dir = path.join(this.root, id);
      if (await this.published(id)) continue;
      const summary = { files: 0, bytes: 0, newest: 0 };
      try {
        summary.newest = (await lstat(dir)).mtimeMs;
        await walk(dir, summary);
      } catch (err) {
        if (isMissing(err)) continue; // deleted while we looked
        throw err;
      }
      if (summary.newest < olderThan.getTime()) {
        found.push({ id, files: summary.files, bytes: summary.bytes, lastModified: new Date(summary.newest) });
      }
    }
    return found.sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime());
  }

  async close(): Promise<void> {}
}

/** Counts files (temporary ones included: they are what a crashed write leaves) and their newest mtime. */
async function walk(dir: string, summary: { files: number; bytes: number; newest: number }): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const stats = await lstat(full);
    summary.newest = Math.max(summary.newest, stats.mtimeMs);
    if (entry.isDirectory()) await walk(full, summary);
    else {
      summary.files += 1;
      summary.bytes += stats.size;
    }
  }
}
