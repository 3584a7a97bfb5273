import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { BackupStorageError, type BackupManifest, type BackupStorage } from "../../shared/backup-storage/backup-storage.ts";

/** One fresh, empty backup storage, and a way to change stored bytes behind its back (bit rot, tampering). */
export interface BackupStorageUnderTest {
  storage: BackupStorage;
  overwrite(backupId: string, name: string, bytes: Buffer): Promise<void>;
}

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Pseudo-random bytes, produced in 64 KiB chunks as they are read. */
function chunked(bytes: Buffer, chunkSize = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
    })(),
  );
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

const newId = (label = "b") => `${label}-${randomUUID().slice(0, 8)}`;
const code = (err: unknown) => (err as { code?: string }).code;

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    if (!(err instanceof BackupStorageError)) return `not a BackupStorageError: ${String(err)}`;
    return code(err);
  }
}

/**
 * The behaviour every backup storage adapter must have. `create` is called for every test and
 * must return an empty storage of its own (a new directory, a new key prefix).
 */
export function describeBackupStorageContract(name: string, create: () => Promise<BackupStorageUnderTest>) {
  describe(`backup storage contract: ${name}`, () => {
    let storage: BackupStorage;
    let overwrite: BackupStorageUnderTest["overwrite"];
    const scratch = mkdtempSync(path.join(tmpdir(), "quarry-backup-src-"));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    beforeEach(async () => {
      ({ storage, overwrite } = await create());
    });
    afterEach(async () => {
      await storage.close();
    });

    async function backupWith(id: string, files: Record<string, Buffer>, createdAt = new Date().toISOString()): Promise<BackupManifest> {
      const entries = [];
      for (const [fileName, bytes] of Object.entries(files)) entries.push(await storage.writeFile(id, fileName, chunked(bytes)));
      const manifest: BackupManifest = { createdAt, files: entries, storeKind: "embedded", collections: [{ id: "c1", points: 3 }] };
      await storage.publishManifest(id, manifest);
      return manifest;
    }

    it("round-trips a multi-megabyte file from a stream and from a path, with the sha256 and size computed while it streamed", async () => {
      const id = newId();
      const big = randomBytes(12 * MiB + 12_345);
      const fromStream = await storage.writeFile(id, "collections/c1/points.bin", chunked(big));
      expect(fromStream).toEqual({ name: "collections/c1/points.bin", sha256: sha256(big), size: big.length });

      const local = path.join(scratch, `${id}.bin`);
      const small = randomBytes(300_001);
      writeFileSync(local, small);
      expect(await storage.writeFile(id, "records.jsonl", { path: local })).toEqual({ name: "records.jsonl", sha256: sha256(small), size: small.length });
      expect(await storage.writeFile(id, "empty.bin", Readable.from([]))).toEqual({ name: "empty.bin", sha256: sha256(Buffer.alloc(0)), size: 0 });

      const back = await readAll(await storage.readFile(id, "collections/c1/points.bin"));
      expect(back.length).toBe(big.length);
      expect(sha256(back)).toBe(sha256(big));
      expect(sha256(await readAll(await storage.readFile(id, "records.jsonl")))).toBe(sha256(small));
      expect(await storage.verifyFile(id, "collections/c1/points.bin", fromStream)).toEqual({ ok: true });
      expect(await errorCode(storage.readFile(id, "nope.bin"))).toBe("BACKUP_FILE_NOT_FOUND");
    });

    it("a write whose source fails half-way throws and leaves nothing under the file's name", async () => {
      const id = newId();
      const failing = Readable.from(
        (async function* () {
          for (let i = 0; i < 6; i++) yield randomBytes(MiB); // past one multipart part
          throw new Error("disk read failed");
        })(),
      );
      await expect(storage.writeFile(id, "half.bin", failing)).rejects.toThrow();
      expect(await errorCode(storage.readFile(id, "half.bin"))).toBe("BACKUP_FILE_NOT_FOUND");
      expect(await storage.verifyFile(id, "half.bin", { sha256: sha256(Buffer.alloc(0)), size: 0 })).toEqual({ ok: false, reason: "missing" });
    });

    it("a backup is listed only once its manifest is published, and then it is immutable", async () => {
      const id = newId();
      const data = randomBytes(4096);
      const entry = await storage.writeFile(id, "data.bin", chunked(data));
      expect(await storage.list()).toEqual([]);
      expect(await storage.readManifest(id)).toBeNull();

      const manifest: BackupManifest = { createdAt: "2026-01-02T02:00:00.000Z", files: [entry], quarryVersion: "0.1.0", counts: { points: 7 } };
      await storage.publishManifest(id, manifest);
      expect(await storage.list()).toEqual([{ id, manifest }]);
      expect(await storage.readManifest(id)).toEqual(manifest);

      await storage.publishManifest(id, manifest); // a retried publish is harmless
      expect(await errorCode(storage.publishManifest(id, { ...manifest, quarryVersion: "9" }))).toBe("BACKUP_ALREADY_PUBLISHED");
      expect(await errorCode(storage.writeFile(id, "late.bin", chunked(data)))).toBe("BACKUP_ALREADY_PUBLISHED");
      expect(await storage.readManifest(id)).toEqual(manifest);
    });

    it("refuses to publish a manifest that names a file not stored, or stored at another size", async () => {
      const id = newId();
      const entry = await storage.writeFile(id, "data.bin", chunked(randomBytes(1000)));
      const createdAt = new Date().toISOString();
      const missing = { name: "other.bin", sha256: entry.sha256, size: 1000 };
      expect(await errorCode(storage.publishManifest(id, { createdAt, files: [entry, missing] }))).toBe("BACKUP_FILE_MISSING");
      expect(await errorCode(storage.publishManifest(id, { createdAt, files: [{ ...entry, size: 999 }] }))).toBe("BACKUP_FILE_MISSING");
      expect(await errorCode(storage.publishManifest(id, { createdAt: "yesterday", files: [entry] }))).toBe("BACKUP_MANIFEST_INVALID");
      expect(await storage.list()).toEqual([]);
    });

    it("verification reads the bytes back: a truncated, an altered or a missing file fails", async () => {
      const id = newId();
      const data = randomBytes(2 * MiB + 17);
      const manifest = await backupWith(id, { "a.bin": data, "b.bin": data, "c.bin": data });
      const [a, b, c] = manifest.files;
      for (const entry of manifest.files) expect(await storage.verifyFile(id, entry.name, entry)).toEqual({ ok: true });

      await overwrite(id, "a.bin", data.subarray(0, data.length - 1));
      const altered = Buffer.from(data);
      altered[MiB] = altered[MiB]! ^ 0xff;
      await overwrite(id, "b.bin", altered);

      expect(await storage.verifyFile(id, "a.bin", a!)).toEqual({ ok: false, reason: "size_mismatch", actual: { size: data.length - 1, sha256: sha256(data.subarray(0, -1)) } });
      expect(await storage.verifyFile(id, "b.bin", b!)).toEqual({ ok: false, reason: "sha256_mismatch", actual: { size: data.length, sha256: sha256(altered) } });
      expect(await storage.verifyFile(id, "c.bin", c!)).toEqual({ ok: true });
      expect(await storage.verifyFile(id, "d.bin", c!)).toEqual({ ok: false, reason: "missing" });
    });

    it("deletes a backup whole, and a missing backup without complaint", async () => {
      const keep = newId("keep");
      const gone = newId("gone");
      await backupWith(keep, { "x.bin": randomBytes(100) });
      await backupWith(gone, { "x.bin": randomBytes(100), "nested/y.bin": randomBytes(100) });
      await storage.delete(gone);
      expect((await storage.list()).map((b) => b.id)).toEqual([keep]);
      expect(await storage.readManifest(gone)).toBeNull();
      expect(await errorCode(storage.readFile(gone, "nested/y.bin"))).toBe("BACKUP_FILE_NOT_FOUND");
      expect(await storage.listIncomplete(new Date(Date.now() + 3_600_000))).toEqual([]);
      await storage.delete(gone);
      await storage.delete(newId("never"));
      expect(await storage.readFile(keep, "x.bin")).toBeDefined();
    });

    it("lists backups with files but no manifest, older than the cutoff, for clean-up", async () => {
      const crashed = newId("crashed");
      await storage.writeFile(crashed, "one.bin", chunked(randomBytes(1000)));
      await storage.writeFile(crashed, "deep/two.bin", chunked(randomBytes(500)));
      await backupWith(newId("good"), { "x.bin": randomBytes(10) });

      expect(await storage.listIncomplete(new Date(Date.now() - 3_600_000))).toEqual([]);
      const later = await storage.listIncomplete(new Date(Date.now() + 3_600_000));
      expect(later).toEqual([{ id: crashed, files: 2, bytes: 1500, lastModified: expect.any(Date) }]);
      expect(Math.abs(later[0]!.lastModified.getTime() - Date.now())).toBeLessThan(60_000);
      expect(await storage.list()).toHaveLength(1);

      await storage.delete(crashed);
      expect(await storage.listIncomplete(new Date(Date.now() + 3_600_000))).toEqual([]);
    });

    it("lists backups newest first, ties broken by id, keeping each manifest's own fields", async () => {
      const at = (day: number) => new Date(Date.UTC(2026, 0, day, 2)).toISOString();
      await backupWith("b-2026-01-02", { "f.bin": randomBytes(10) }, at(2));
      await backupWith("b-2026-01-05", { "f.bin": randomBytes(10) }, at(5));
      await backupWith("a-manual", { "f.bin": randomBytes(10) }, at(5));
      await backupWith("b-2026-01-01", { "f.bin": randomBytes(10) }, at(1));
      const listed = await storage.list();
      expect(listed.map((b) => b.id)).toEqual(["b-2026-01-05", "a-manual", "b-2026-01-02", "b-2026-01-01"]);
      expect(listed[0]!.manifest).toMatchObject({ createdAt: at(5), storeKind: "embedded", collections: [{ id: "c1", points: 3 }] });
    });

    it("refuses backup ids and file names that could leave the backup's folder", async () => {
      const entry = { name: "x.bin", sha256: sha256(Buffer.alloc(0)), size: 0 };
      const manifest = { createdAt: new Date().toISOString(), files: [] };
      for (const bad of ["../x", "..", ".", "/tmp/x", "/", "a/b", "a\\b", "", " x", ".hidden", "x\0y", "C:x", "%2e%2e"]) {
        expect(await errorCode(storage.writeFile(bad, "x.bin", Readable.from([Buffer.from("x")]))), bad).toBe("BACKUP_INVALID_ID");
        expect(await errorCode(storage.readFile(bad, "x.bin")), bad).toBe("BACKUP_INVALID_ID");
        expect(await errorCode(storage.verifyFile(bad, "x.bin", entry)), bad).toBe("BACKUP_INVALID_ID");
        expect(await errorCode(storage.publishManifest(bad, manifest)), bad).toBe("BACKUP_INVALID_ID");
        expect(await errorCode(storage.readManifest(bad)), bad).toBe("BACKUP_INVALID_ID");
        expect(await errorCode(storage.delete(bad)), bad).toBe("BACKUP_INVALID_ID");
      }
      const id = newId();
      for (const bad of ["../x.bin", "../../x.bin", "a/../../x.bin", "/etc/passwd", "a//b", "a/", "./x", ".tmp", "manifest.json", "a\\..\\b", ""]) {
        expect(await errorCode(storage.writeFile(id, bad, Readable.from([Buffer.from("x")]))), bad).toBe("BACKUP_INVALID_NAME");
        expect(await errorCode(storage.readFile(id, bad)), bad).toBe("BACKUP_INVALID_NAME");
      }
      expect(await errorCode(storage.publishManifest(id, { ...manifest, files: [{ ...entry, name: "../x.bin" }] }))).toBe("BACKUP_INVALID_NAME");
      expect(await storage.list()).toEqual([]);
      expect(await storage.listIncomplete(new Date(Date.now() + 3_600_000))).toEqual([]);
    });
  });
}
