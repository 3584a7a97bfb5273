import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  type _Object,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
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

export interface S3BackupStorageOptions {
  bucket: string;
  /** Default us-east-1 (what most S3-compatible servers accept). */
  region?: string;
  /** An S3-compatible server (MinIO, Ceph, R2, …); AWS S3 when absent. */
  endpoint?: string;
  /** Key prefix for every backup, e.g. `quarry/prod` → `quarry/prod/<backupId>/…`. */
  prefix?: string;
  /** Passed by the caller; when absent the AWS SDK's default chain (environment, instance role…) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** `bucket` in the path instead of the host name; default true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Multipart part size (≥ 5 MiB, default 8 MiB): a file may have 10,000 parts, so this caps its size (80 GB). */
  partSizeBytes?: number;
  /** Parts uploaded at once; memory use is about partSizeBytes × queueSize. Default 4. */
  queueSize?: number;
}

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const isNotFound = (err: unknown) => statusOf(err) === 404 || ["NoSuchKey", "NotFound"].includes((err as Error).name);

/**
 * Backups in an S3-compatible bucket: `<prefix>/<backupId>/<name>` and `<prefix>/<backupId>/manifest.json`.
 * Files stream through a multipart upload (lib-storage `Upload`), hashed on the way, so no file is
 * held in memory whole; a failed upload is aborted and leaves no object under its key. The manifest
 * is one `PutObject`, which S3 makes visible whole or not at all.
 */
export class S3BackupStorage implements BackupStorage {
  readonly kind = "s3" as const;
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3BackupStorageOptions) {
    this.bucket = options.bucket;
    const trimmed = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    this.prefix = trimmed ? `${trimmed}/` : "";
    this.partSize = Math.max(options.partSizeBytes ?? 8 * 1024 * 1024, 5 * 1024 * 1024);
    this.queueSize = options.queueSize ?? 4;
    this.location = `s3://${this.bucket}/${this.prefix}`;
    this.client = new S3Client({
      region: options.region ?? "us-east-1",
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      credentials: options.credentials,
    });
  }

  private folder(backupId: string): string {
    assertBackupId(backupId);
    return `${this.prefix}${backupId}/`;
  }

  private key(backupId: string, name: string): string {
    assertFileName(name);
    return this.folder(backupId) + name;
  }

  /** Network errors, throttling and 5xx are worth a retry; anything else is the bucket saying no. */
  private fail(err: unknown, what: string): BackupStorageError {
    if (err instanceof BackupStorageError) return err;
    const status = statusOf(err);
    const detail = `${(err as Error).name ?? "Error"}: ${String((err as Error).message ?? err).slice(0, 300)}`;
    if (status === undefined || status === 429 || status >= 500) {
      return new BackupStorageError("BACKUP_STORAGE_UNAVAILABLE", `backup storage ${this.location} is unavailable: ${what} failed (${detail})`, { retryable: true, cause: err });
    }
    return new BackupStorageError("BACKUP_STORAGE_REJECTED", `backup storage ${this.location} refused ${what} (${status} ${detail})`, { cause: err });
  }

  private async send<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw this.fail(err, what);
    }
  }

  private async published(backupId: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.folder(backupId) + MANIFEST_NAME }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.fail(err, `checking backup ${backupId}`);
    }
  }

  private async objects(prefix: string): Promise<_Object[]> {
    const found: _Object[] = [];
    await this.send(`listing ${prefix}`, async () => {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix })) found.push(...(page.Contents ?? []));
    });
    return found;
  }

  private async backupIds(): Promise<string[]> {
    const ids: string[] = [];
    await this.send("listing backups", async () => {
      const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: this.prefix, Delimiter: "/" });
      for await (const page of pages) {
        for (const p of page.CommonPrefixes ?? []) {
          const id = (p.Prefix ?? "").slice(this.prefix.length, -1);
          if (isBackupId(id)) ids.push(id);
        }
      }
    });
    return ids;
  }

  async writeFile(backupId: string, name: string, source: BackupSource): Promise<BackupFileEntry> {
    const key = this.key(backupId, name);
    if (await this.published(backupId)) throw alreadyPublished(backupId);
    const hashing = hashingStream();
    const input = "path" in source ? createReadStream(source.path) : source;
    const piping = pipeline(input, hashing.stream);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: hashing.stream },
      partSize: this.partSize,
      queueSize: this.queueSize,
    });
    const uploading = upload.done();
    try {
      await Promise.all([uploading, piping]);
    } catch (err) {
      // A failed body fails the upload, which then aborts its multipart upload: nothing lands under
      // `key`. Wait for that, so no part outlives this call.
      hashing.stream.destroy();
      await uploading.catch(() => undefined);
      throw this.fail(err, `uploading ${key}`);
    }
    return { name, ...hashing.result() };
  }

  async readFile(backupId: string, name: string): Promise<NodeJS.ReadableStream> {
    const key = this.key(backupId, name);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return response.Body as NodeJS.ReadableStream;
    } catch (err) {
      if (isNotFound(err)) throw fileNotFound(backupId, name);
      throw this.fail(err, `reading ${key}`);
    }
  }

  async verifyFile(backupId: string, name: string, expected: { sha256: string; size: number }): Promise<VerifyResult> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.readFile(backupId, name);
    } catch (err) {
      if (isBackupStorageError(err, "BACKUP_FILE_NOT_FOUND")) return { ok: false, reason: "missing" };
      throw err;
    }
    return this.send(`reading ${name} of ${backupId}`, () => verifyStream(stream, expected));
  }

  async publishManifest(backupId: string, manifest: BackupManifest): Promise<void> {
    const folder = this.folder(backupId);
    const body = manifestText(manifest, backupId);
    const existing = await this.manifestText(backupId);
    if (existing !== null) {
      if (existing === body) return;
      throw alreadyPublished(backupId);
    }
    const stored = new Map((await this.objects(folder)).map((o) => [o.Key, o.Size]));
    for (const file of manifest.files) {
      const size = stored.get(folder + file.name);
      if (size !== file.size) {
        throw new BackupStorageError("BACKUP_FILE_MISSING", `backup ${backupId}: ${file.name} is ${size === undefined ? "not stored" : `${size} bytes, not ${file.size}`}`);
      }
    }
    await this.send(`publishing the manifest of ${backupId}`, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: folder + MANIFEST_NAME, Body: body, ContentType: "application/json" })),
    );
  }

  private async manifestText(backupId: string): Promise<string | null> {
    const key = this.folder(backupId) + MANIFEST_NAME;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await response.Body?.transformToString("utf8")) ?? "";
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail(err, `reading ${key}`);
    }
  }

  async readManifest(backupId: string): Promise<BackupManifest | null> {
    const text = await this.manifestText(backupId);
    return text === null ? null : manifestFromText(text, backupId);
  }

  async list(): Promise<StoredBackup[]> {
    const ids = await this.backupIds();
    const found = await mapLimit(ids, 8, async (id) => {
      const manifest = await this.readManifest(id).catch((err: unknown) => {
        if (isBackupStorageError(err, "BACKUP_MANIFEST_INVALID")) return null;
        throw err;
      });
      return manifest ? { id, manifest } : null;
    });
    return found.filter((b): b is StoredBackup => b !== null).sort(newestFirst);
  }

  async delete(backupId: string): Promise<void> {
    const folder = this.folder(backupId);
    await this.send(`deleting the manifest of ${backupId}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: folder + MANIFEST_NAME })));
    const keys = (await this.objects(folder)).map((o) => o.Key).filter((k): k is string => k !== undefined);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const response = await this.send(`deleting the files of ${backupId}`, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      const first = response.Errors?.[0];
      if (first) {
        throw new BackupStorageError("BACKUP_STORAGE_UNAVAILABLE", `backup storage ${this.location}: ${response.Errors!.length} files of ${backupId} were not deleted (${first.Key}: ${first.Code})`, { retryable: true });
      }
    }
  }

  async listIncomplete(olderThan: Date): Promise<IncompleteBackup[]> {
    const found = await mapLimit(await this.backupIds(), 8, async (id): Promise<IncompleteBackup | null> => {
      if (await this.published(id)) return null;
      const objects = await this.objects(this.folder(id));
      if (objects.length === 0) return null;
      const newest = objects.reduce((max, o) => Math.max(max, o.LastModified?.getTime() ?? 0), 0);
      if (newest >= olderThan.getTime()) return null;
      return { id, files: objects.length, bytes: objects.reduce((sum, o) => sum + (o.Size ?? 0), 0), lastModified: new Date(newest) };
    });
    return found.filter((b): b is IncompleteBackup => b !== null).sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime());
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}
