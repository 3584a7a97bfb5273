import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { z } from "zod";

/** One stored file of a backup, as the manifest lists it. */
export interface BackupFileEntry {
  /** Relative to the backup: `/`-separated segments of `[A-Za-z0-9._=-]`, none starting with a dot. */
  name: string;
  /** Lowercase hex sha256 of the bytes. */
  sha256: string;
  size: number;
}

/**
 * What makes a folder of files a backup. The backup use case adds its own fields (collections,
 * counts, Quarry version, store kind…); storage keeps them as they are and needs only these.
 */
export interface BackupManifest {
  /** ISO 8601; `list()` orders by it, newest first. */
  createdAt: string;
  /** Every file of the backup. `publishManifest` refuses a manifest naming a file that is not stored at that size. */
  files: BackupFileEntry[];
  [field: string]: unknown;
}

export interface StoredBackup {
  id: string;
  manifest: BackupManifest;
}

/** A backup folder with files but no manifest: a backup that crashed or is still being written. */
export interface IncompleteBackup {
  id: string;
  files: number;
  bytes: number;
  /** When its newest file was written. */
  lastModified: Date;
}

export type VerifyResult =
  | { ok: true }
  | { ok: false; reason: "missing" }
  | { ok: false; reason: "size_mismatch" | "sha256_mismatch"; actual: { sha256: string; size: number } };

/** Bytes to store: a stream (any async iterable of chunks, a Node `Readable` included) or a local file. */
export type BackupSource = AsyncIterable<Uint8Array> | { path: string };

/**
 * Where backups live: `BACKUP_DIR` on local disk, or an S3-compatible bucket. A backup is a
 * folder-like unit `<backupId>/` holding files and a `manifest.json`; it counts as a backup only
 * once its manifest is published, and the manifest is published last (write, verify, publish).
 * A published backup is immutable until deleted. Files stream in and out: nothing holds a whole
 * file in memory. Every adapter passes test/integration/backup-storage.contract.ts.
 *
 * Backup ids are validated ({@link assertBackupId}); a bad one throws `BACKUP_INVALID_ID`. Every
 * folder directly under the storage's root (directory or key prefix) is taken for a backup, so two
 * storages must never nest: one's backups would look like the other's incomplete ones.
 */
export interface BackupStorage {
  readonly kind: "local" | "s3";
  /** Where backups go, for logs and docs (`/var/backups/quarry`, `s3://bucket/prefix/`); never secrets. */
  readonly location: string;
  /**
   * Stores one file of an unpublished backup, hashing it while it streams. A failed or
   * interrupted write leaves nothing under the final name. Throws `BACKUP_ALREADY_PUBLISHED` if the
   * backup has a manifest.
   */
  writeFile(backupId: string, name: string, source: BackupSource): Promise<BackupFileEntry>;
  /** The file's bytes as a stream. Throws `BACKUP_FILE_NOT_FOUND` when it is not stored. */
  readFile(backupId: string, name: string): Promise<NodeJS.ReadableStream>;
  /** Reads the stored file back in full and compares its size and sha256 (never an ETag or a stat alone). */
  verifyFile(backupId: string, name: string, expected: { sha256: string; size: number }): Promise<VerifyResult>;
  /**
   * Makes the backup a backup: checks that every file the manifest lists is stored at its size,
   * then writes `manifest.json` atomically. Publishing the same manifest again is a no-op; a
   * different one throws `BACKUP_ALREADY_PUBLISHED`.
   */
  publishManifest(backupId: string, manifest: BackupManifest): Promise<void>;
  /** The published manifest, or null when the backup has none. Throws `BACKUP_MANIFEST_INVALID` on a corrupt one. */
  readManifest(backupId: string): Promise<BackupManifest | null>;
  /** Published backups, newest `createdAt` first (ties: id descending). Folders without a readable manifest are left out. */
  list(): Promise<StoredBackup[]>;
  /**
   * Removes a backup: the manifest first, so a half-deleted backup is never listed as one, then its
   * files. A missing backup is not an error.
   */
  delete(backupId: string): Promise<void>;
  /** Folders with files but no manifest whose newest file is older than `olderThan`, for clean-up with `delete`. */
  listIncomplete(olderThan: Date): Promise<IncompleteBackup[]>;
  close(): Promise<void>;
}

export type BackupStorageErrorCode =
  | "BACKUP_INVALID_ID"
  | "BACKUP_INVALID_NAME"
  | "BACKUP_MANIFEST_INVALID"
  | "BACKUP_FILE_MISSING"
  | "BACKUP_FILE_NOT_FOUND"
  | "BACKUP_ALREADY_PUBLISHED"
  | "BACKUP_STORAGE_UNAVAILABLE"
  | "BACKUP_STORAGE_REJECTED";

/**
 * What every adapter throws for what it knows about. Not an API error (`AppError`): the backup
 * use case decides what a client or a job record shows (`BACKUP_STORAGE_UNAVAILABLE` is worth a
 * retry, a missing or corrupt file fails a restore…).
 */
export class BackupStorageError extends Error {
  readonly code: BackupStorageErrorCode;
  /** True when the same call may succeed later (network, throttling, 5xx). */
  readonly retryable: boolean;

  constructor(code: BackupStorageErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "BackupStorageError";
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export const isBackupStorageError = (err: unknown, code?: BackupStorageErrorCode): err is BackupStorageError =>
  err instanceof BackupStorageError && (code === undefined || err.code === code);

export const MANIFEST_NAME = "manifest.json";

const BACKUP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAME_SEGMENT = /^[A-Za-z0-9_=-][A-Za-z0-9._=-]{0,254}$/;

/** Throws `BACKUP_INVALID_ID` unless the id is one safe path segment (no `/`, `..`, absolute paths). */
export function assertBackupId(backupId: string): void {
  if (typeof backupId !== "string" || !BACKUP_ID.test(backupId)) {
    throw new BackupStorageError("BACKUP_INVALID_ID", `invalid backup id ${JSON.stringify(String(backupId).slice(0, 200))}: use 1–128 of [A-Za-z0-9._-], starting with a letter or digit`);
  }
}

export const isBackupId = (value: string) => BACKUP_ID.test(value);

/** Throws `BACKUP_INVALID_NAME` unless the file name is a safe relative path that is not the manifest's. */
export function assertFileName(name: string): void {
  const segments = typeof name === "string" ? name.split("/") : [];
  const valid = segments.length > 0 && segments.length <= 32 && segments.every((s) => NAME_SEGMENT.test(s)) && name !== MANIFEST_NAME;
  if (!valid) {
    throw new BackupStorageError("BACKUP_INVALID_NAME", `invalid backup file name ${JSON.stringify(String(name).slice(0, 200))}`);
  }
}

const manifestSchema = z.looseObject({
  createdAt: z.iso.datetime({ offset: true }),
  files: z.array(z.object({ name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })),
});

/** Validates a manifest's storage fields and file names; throws `BACKUP_MANIFEST_INVALID`. */
export function parseManifest(value: unknown, backupId: string): BackupManifest {
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BackupStorageError("BACKUP_MANIFEST_INVALID", `backup ${backupId}: invalid manifest: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`);
  }
  const names = new Set<string>();
  for (const file of parsed.data.files) {
    assertFileName(file.name);
    if (names.has(file.name)) throw new BackupStorageError("BACKUP_MANIFEST_INVALID", `backup ${backupId}: manifest lists ${file.name} twice`);
    names.add(file.name);
  }
  return parsed.data as BackupManifest;
}

/** The bytes of `manifest.json` as every adapter writes them (the same manifest always gives the same text). */
export function manifestText(manifest: BackupManifest, backupId: string): string {
  return JSON.stringify(parseManifest(manifest, backupId), null, 2);
}

/** Parses a stored manifest.json; throws `BACKUP_MANIFEST_INVALID` when it is not JSON or not a manifest. */
export function manifestFromText(text: string, backupId: string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupStorageError("BACKUP_MANIFEST_INVALID", `backup ${backupId}: manifest.json is not JSON`);
  }
  return parseManifest(json, backupId);
}

/** The order of `list()`: newest `createdAt` first, then id descending. */
export function newestFirst(a: StoredBackup, b: StoredBackup): number {
  const byTime = Date.parse(b.manifest.createdAt) - Date.parse(a.manifest.createdAt);
  return byTime !== 0 ? byTime : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export const alreadyPublished = (backupId: string) =>
  new BackupStorageError("BACKUP_ALREADY_PUBLISHED", `backup ${backupId} is already published; published backups are immutable`);

export const fileNotFound = (backupId: string, name: string) =>
  new BackupStorageError("BACKUP_FILE_NOT_FOUND", `backup ${backupId} has no file ${name}`);

/** A pass-through stream that hashes and counts what flows through it. */
export function hashingStream(): { stream: Transform; result: () => { sha256: string; size: number } } {
  const hash = createHash("sha256");
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  let digest: string | undefined;
  return { stream, result: () => ({ sha256: (digest ??= hash.digest("hex")), size }) };
}

/** Reads a stream to its end and compares it with what was expected. */
export async function verifyStream(source: NodeJS.ReadableStream, expected: { sha256: string; size: number }): Promise<VerifyResult> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    size += chunk.length;
  }
  const actual = { sha256: hash.digest("hex"), size };
  if (actual.size !== expected.size) return { ok: false, reason: "size_mismatch", actual };
  if (actual.sha256 !== expected.sha256.toLowerCase()) return { ok: false, reason: "sha256_mismatch", actual };
  return { ok: true };
}
