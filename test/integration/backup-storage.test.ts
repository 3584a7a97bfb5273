import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalBackupStorage } from "../../shared/backup-storage/local.backup-storage.ts";
import { S3BackupStorage, type S3BackupStorageOptions } from "../../shared/backup-storage/s3.backup-storage.ts";
import { ThrowawayS3 } from "../helpers/s3-server.ts";
import { describeBackupStorageContract } from "./backup-storage.contract.ts";

const MiB = 1024 * 1024;
const base = mkdtempSync(path.join(tmpdir(), "quarry-backups-"));
const s3 = new ThrowawayS3();
let raw: S3Client;

beforeAll(async () => {
  await s3.start();
  raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3.credentials });
});
afterAll(async () => {
  raw?.destroy();
  await s3.cleanup();
  rmSync(base, { recursive: true, force: true });
});

describeBackupStorageContract("local directory", async () => {
  const dir = path.join(mkdtempSync(path.join(base, "case-")), "backups");
  return {
    storage: new LocalBackupStorage({ dir }),
    overwrite: async (backupId, name, bytes) => writeFileSync(path.join(dir, backupId, ...name.split("/")), bytes),
  };
});

const s3Options = (prefix: string): S3BackupStorageOptions => ({
  bucket: s3.bucket,
  endpoint: s3.endpoint,
  region: s3.region,
  prefix,
  credentials: s3.credentials,
  partSizeBytes: 5 * MiB, // the smallest S3 allows, so the multi-megabyte files go up in several parts
});

describeBackupStorageContract("S3 (s3rver)", async () => {
  const prefix = `runs/${randomUUID()}/`;
  return {
    storage: new S3BackupStorage(s3Options(prefix)),
    overwrite: async (backupId, name, bytes) => {
      await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${backupId}/${name}`, Body: bytes }));
    },
  };
});

describe("local backup storage on disk", () => {
  it("leaves no file outside its directory when asked to, and no temporary file after a failed write", async () => {
    const parent = mkdtempSync(path.join(base, "escape-"));
    const storage = new LocalBackupStorage({ dir: path.join(parent, "backups") });
    for (const [id, name] of [["../escaped", "x.bin"], ["ok", "../../escaped.bin"]] as const) {
      await expect(storage.writeFile(id, name, Readable.from([Buffer.from("x")]))).rejects.toThrow();
    }
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(1000);
        throw new Error("source failed");
      })(),
    );
    await expect(storage.writeFile("ok", "half.bin", failing)).rejects.toThrow("source failed");
    expect(readdirSync(parent)).toEqual(["backups"]);
    expect(readdirSync(path.join(parent, "backups", "ok"))).toEqual([]);
  });

  it("a temporary file left by a crash counts towards an incomplete backup, and the published manifest is the only manifest.json", async () => {
    const dir = path.join(mkdtempSync(path.join(base, "crash-")), "backups");
    const storage = new LocalBackupStorage({ dir });
    await storage.writeFile("crashed", "a.bin", Readable.from([randomBytes(10)]));
    writeFileSync(path.join(dir, "crashed", ".b.bin.0123456789ab.tmp"), randomBytes(5)); // what a killed write leaves
    expect(await storage.listIncomplete(new Date(Date.now() + 60_000))).toEqual([{ id: "crashed", files: 2, bytes: 15, lastModified: expect.any(Date) }]);

    const entry = await storage.writeFile("good", "a.bin", Readable.from([randomBytes(10)]));
    await storage.publishManifest("good", { createdAt: new Date().toISOString(), files: [entry] });
    expect(readdirSync(path.join(dir, "good")).sort()).toEqual(["a.bin", "manifest.json"]);
  });
});

describe("S3 backup storage", () => {
  it("keeps backups under its prefix apart from another prefix's", async () => {
    const one = new S3BackupStorage(s3Options(`tenants/${randomUUID()}`));
    const two = new S3BackupStorage(s3Options(`/tenants/${randomUUID()}/`));
    try {
      const entry = await one.writeFile("same-id", "f.bin", Readable.from([Buffer.from("one")]));
      await one.publishManifest("same-id", { createdAt: new Date().toISOString(), files: [entry] });
      expect(await two.list()).toEqual([]);
      expect(await two.readManifest("same-id")).toBeNull();
      await two.delete("same-id");
      expect((await one.list()).map((b) => b.id)).toEqual(["same-id"]);
      expect(two.location).toMatch(/^s3:\/\/quarry-backups\/tenants\/[0-9a-f-]+\/$/);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("refuses unknown credentials as a permanent error that names no secret", async () => {
    // s3rver checks the access key id (it does not verify V4 signatures).
    const storage = new S3BackupStorage({ ...s3Options("creds"), credentials: { accessKeyId: "NOT-A-KEY", secretAccessKey: "not-the-secret" } });
    try {
      const err = await storage.list().then(
        () => undefined,
        (e: unknown) => e as { code: string; retryable: boolean; message: string },
      );
      expect(err).toMatchObject({ code: "BACKUP_STORAGE_REJECTED", retryable: false });
      expect(err!.message).not.toContain("not-the-secret");
    } finally {
      await storage.close();
    }
  });

  it("reports an unreachable server as retryable, and works again once it is back", async () => {
    const storage = new S3BackupStorage(s3Options(`outage/${randomUUID()}`));
    try {
      await s3.stop();
      await expect(storage.list()).rejects.toMatchObject({ code: "BACKUP_STORAGE_UNAVAILABLE", retryable: true });
      await s3.start();
      expect(await storage.list()).toEqual([]);
    } finally {
      await s3.start();
      await storage.close();
    }
  });
});
