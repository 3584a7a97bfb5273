/**
 * The admin routes under a hostile client, the backup's consistency check, retention applied to
 * real storage, and the nightly schedule end to end (a schedule every two seconds).
 */
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareSchedules } from "../../scheduler/declare-schedules.ts";
import { schedules } from "../../scheduler/schedules.ts";
import { restoreBackup } from "../../shared/backup/restore-backup.ts";
import { takeBackup } from "../../shared/backup/take-backup.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION } from "../../shared/backup/backup-manifest.ts";
import { pruneBackups } from "../../shared/use-cases/backups.ts";
import type { VectorStore } from "../../shared/vector-store/vector-store.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

const ADMIN = "admin-fuzz-token-0001";
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let stack: TestStack;
let admin: ApiClient;
let acme: ApiClient;
let collectionId: string;

beforeAll(async () => {
  stack = await startTestStack({
    workers: true,
    env: { ADMIN_TOKEN: ADMIN, BACKUP_KEEP_DAILY: "1", BACKUP_KEEP_WEEKLY: "0", BACKUP_KEEP_MONTHLY: "0", BACKUP_CRON: "off" },
  });
  admin = apiClient(stack.url, ADMIN);
  acme = apiClient(stack.url, TEST_KEYS.acme);
  const c = await acme.post("/v1/collections", { name: "fuzzed" });
  collectionId = c.body.id;
  for (const text of ["Owls hunt at night.", "Larks sing at dawn.", "Swifts sleep on the wing."]) {
    const res = await acme.post(`/v1/collections/${collectionId}/documents`, { text });
    await waitFor(async () => ((await acme.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined));
  }
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("the admin routes", () => {
  it("take the admin token as Bearer or as Basic with user admin, and nothing else", async () => {
    const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` });
    const cases: Array<[Record<string, string>, number]> = [
      [{}, 401],
      [{ authorization: `Bearer ${TEST_KEYS.acme}` }, 401],
      [{ authorization: `Bearer ${ADMIN}x` }, 401],
      [{ authorization: `bearer ${ADMIN}` }, 200],
      [basic("admin", ADMIN), 200],
      [basic("root", ADMIN), 401],
      [basic("admin", ""), 401],
      [{ authorization: "Basic !!!" }, 401],
      [{ authorization: `Token ${ADMIN}` }, 401],
    ];
    for (const [headers, status] of cases) {
      const res = await fetch(`${stack.url}/v1/backups`, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(status);
      if (status === 401) {
        expect(((await res.json()) as Json).error.code).toBe("UNAUTHORIZED");
        expect(res.headers.get("www-authenticate")).toContain("Basic");
      }
    }
  });

  it("answer 404 for any id that cannot name a backup, never 500", async () => {
    // ("..", which fetch resolves away before sending, is left out: the server never sees it.)
    const ids = [".hidden", "a/b", "%2e%2e%2fetc", "x".repeat(129), "%00", "ü", "a%20b", "%20", "-leading", "20261124T020000Z-nightly"];
    for (const id of ids) {
      for (const [method, path] of [["GET", `/v1/backups/${id}`], ["POST", `/v1/backups/${id}/restore`]] as const) {
        const res = await admin.call(method, path, method === "POST" ? {} : undefined);
        // (A path with more segments matches no backup route: the API-key check answers it, 403 for the admin token.)
        expect([404, 400, 403], `${method} ${path}: ${res.text}`).toContain(res.status);
        expect(res.body.error.code).toMatch(/^(BACKUP_NOT_FOUND|NOT_FOUND|BAD_REQUEST|FORBIDDEN)$/);
      }
    }
  });

  it("answer 400 or 415 to bodies they cannot take, never 500", async () => {
    const bodies: unknown[] = [
      [],
      "null",
      "42",
      '"text"',
      { collection_ids: [] },
      { collection_ids: "all" },
      { collection_ids: [42] },
      { collection_ids: Array.from({ length: 10_001 }, () => randomUUID()) },
      { as_new_collection: "yes" },
      { unknown: true },
      "{not json",
      `{"collection_ids":${"[".repeat(100)}${"]".repeat(100)}}`,
    ];
    for (const path of ["/v1/backups", `/v1/backups/whatever/restore`]) {
      for (const body of bodies) {
        const res = await admin.call("POST", path, body);
        expect(res.status, `${path} ${JSON.stringify(body).slice(0, 80)}: ${res.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
      const text = await admin.call("POST", path, "{}", { "content-type": "text/plain" });
      expect([text.status, text.body.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    }
    // Nothing of the above was recorded.
    expect((await admin.get("/v1/backups")).body.data).toEqual([]);
  });
});

describe("a backup's consistency check", () => {
  /** A store whose snapshot misses one document's points `misses` times: as if it were deleted meanwhile. */
  function flaky(store: VectorStore, misses: number): VectorStore {
    let left = misses;
    return new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "snapshot") return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<VectorStore["snapshot"]>) => {
          const snapshot = await target.snapshot(...args);
          if (left-- > 0) snapshot.documents.delete([...snapshot.documents.keys()][0]!);
          return snapshot;
        };
      },
    });
  }
  const input = (backupId: string) => ({
    backupId,
    trigger: "manual" as const,
    createdAt: new Date(),
    collectionIds: [collectionId],
    checkpoint: async () => undefined,
    progress: async () => undefined,
  });

  it("reads a collection again when its vectors and records disagree, and fails after three tries", async () => {
    const deps = { ...stack.deps, vectorStore: flaky(stack.deps.vectorStore, 2), logger: pino({ level: "silent" }) };
    const manifest = await takeBackup(deps, input("consistency-retried"));
    expect(manifest.collections[0]).toMatchObject({ id: collectionId, documents: 3, points: 3 });
    const stuck = { ...stack.deps, vectorStore: flaky(stack.deps.vectorStore, 3), logger: pino({ level: "silent" }) };
    await expect(takeBackup(stuck, input("consistency-failed"))).rejects.toMatchObject({ code: "BACKUP_INCONSISTENT" });
    expect(await stack.deps.backupStorage.readManifest("consistency-failed")).toBeNull();
    await stack.deps.backupStorage.delete("consistency-retried");
    await stack.deps.backupStorage.delete("consistency-failed");
  });
});

describe("retention on real storage", () => {
  it("keeps what the policy keeps (here 1 daily), deletes the rest with their rows, and removes old incomplete folders", async () => {
    const storage = stack.deps.backupStorage;
    const publish = async (id: string, createdAt: string, scope: "all" | "some" = "all") => {
      const file = await storage.writeFile(id, "collections/x/records.ndjson.gz", (async function* () {
        yield Buffer.from(id);
      })());
      await storage.publishManifest(id, {
        format: BACKUP_FORMAT,
        format_version: BACKUP_FORMAT_VERSION,
        id,
        createdAt,
        trigger: "scheduled",
        scope,
        quarry_version: "test",
        store: { kind: "embedded" },
        collections: [],
        files: [file],
      });
    };
    await publish("r-old", "2026-11-20T02:00:00.000Z");
    await publish("r-mid", "2026-11-21T02:00:00.000Z");
    await publish("r-new", "2026-11-22T02:00:00.000Z");
    // Backups of some collections never take a complete backup's slot; they are kept BACKUP_KEEP_DAILY days.
    await publish("r-part-new", new Date(Date.now() - 3600_000).toISOString(), "some");
    await publish("r-part-old", "2026-11-01T02:00:00.000Z", "some");
    // A crashed backup's folder: files, no manifest.
    await storage.writeFile("r-crashed", "collections/x/records.ndjson.gz", (async function* () {
      yield Buffer.from("partial");
    })());
    const result = await pruneBackups(stack.deps);
    expect(result.pruned.sort()).toEqual(["r-mid", "r-old", "r-part-old"]);
    expect((await storage.list()).map((b) => b.id)).toEqual(["r-part-new", "r-new"]);
    // Written just now: not old enough to be taken for a crash.
    expect(result.incomplete_removed).toEqual([]);
    expect((await storage.listIncomplete(new Date(Date.now() + 60_000))).map((b) => b.id)).toEqual(["r-crashed"]);
    const listed = (await admin.get("/v1/backups")).body.data;
    expect(listed.map((b: Json) => [b.id, b.scope, b.retention_class])).toEqual([
      ["r-part-new", "some", "partial"],
      ["r-new", "all", "daily"],
    ]);
    await storage.delete("r-new");
    await storage.delete("r-part-new");
    await storage.delete("r-crashed");
  });
});

describe("a restore", () => {
  async function runningJob(): Promise<string> {
    const id = randomUUID();
    await stack.deps.jobs.insert({ id, tenantId: "@ops", type: "restore_backup", maxAttempts: 3, payload: {} });
    await stack.deps.jobs.markRunning(id, 1);
    return id;
  }
  const silent = pino({ level: "silent" });
  const input = (jobId: string, backupId: string, asNewCollection = false) => ({
    jobId,
    backupId,
    asNewCollection,
    collectionIds: [collectionId],
    checkpoint: async () => undefined,
    progress: async () => undefined,
  });

  it("that failed after it switched over is finished, not done again, by its next attempt; it holds the collection until its job ends", async () => {
    const backupId = "restore-resume";
    await takeBackup({ ...stack.deps, logger: silent }, { backupId, trigger: "manual", createdAt: new Date(), collectionIds: [collectionId], checkpoint: async () => undefined, progress: async () => undefined });
    const before = (await stack.deps.collections.findById(collectionId))!.vector_version;
    const jobId = await runningJob();
    let failures = 1;
    const flaky = new Proxy(stack.deps.vectorStore, {
      get(target, prop, receiver) {
        if (prop !== "dropCollection") return Reflect.get(target, prop, receiver);
        return async (ref: Parameters<VectorStore["dropCollection"]>[0]) => {
          // The drop of the old generation, after the switch: fails once, as an outage would.
          if (ref.version === before && failures-- > 0) throw new AppError("VECTOR_STORE_UNAVAILABLE", "down for the test", { retryable: true });
          return target.dropCollection(ref);
        };
      },
    });
    await expect(restoreBackup({ ...stack.deps, vectorStore: flaky, logger: silent }, input(jobId, backupId))).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE" });
    const switched = (await stack.deps.collections.findById(collectionId))!;
    expect(switched.vector_version).toBe(before + 2);
    expect(switched.restore_job_id).toBe(jobId);
    expect((await acme.post(`/v1/collections/${collectionId}/documents`, { text: "Held until the restore job ends." })).body.error.code).toBe("COLLECTION_BUSY");
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId, version: before })).toBe(3);

    const again = await restoreBackup({ ...stack.deps, logger: silent }, input(jobId, backupId));
    expect(again.collections).toMatchObject([{ id: collectionId, restored_as: collectionId, documents: 3 }]);
    expect((await stack.deps.collections.findById(collectionId))!.vector_version).toBe(before + 2);
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId, version: before })).toBe(0);
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId, version: before + 2 })).toBe(3);
    await stack.deps.collections.releaseRestore(jobId);
    await stack.deps.backupStorage.delete(backupId);
  });

  it("of a collection another restore is working on is refused at once", async () => {
    const backupId = "restore-twice";
    await takeBackup({ ...stack.deps, logger: silent }, { backupId, trigger: "manual", createdAt: new Date(), collectionIds: [collectionId], checkpoint: async () => undefined, progress: async () => undefined });
    const [a, b] = [await runningJob(), await runningJob()];
    const outcomes = await Promise.allSettled([restoreBackup({ ...stack.deps, logger: silent }, input(a, backupId, true)), restoreBackup({ ...stack.deps, logger: silent }, input(b, backupId, true))]);
    const refused = outcomes.filter((o) => o.status === "rejected");
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: expect.stringMatching(/^(COLLECTION_BUSY|RESTORE_TARGET_EXISTS)$/) });
    const copy = (outcomes.find((o) => o.status === "fulfilled") as PromiseFulfilledResult<{ collections: Array<{ restored_as: string }> }>).value.collections[0]!.restored_as;
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId: copy, version: 0 })).toBe(3);
    await acme.delete(`/v1/collections/${copy}`);
    await stack.deps.backupStorage.delete(backupId);
  });
});

describe("the nightly schedule", () => {
  it("takes a scheduled backup on each tick and prunes after each one", async () => {
    const list = schedules({ VECTOR_MAINTENANCE_EVERY_MS: 600_000, BACKUP_CRON: "*/3 * * * * *", BACKUP_TZ: "UTC" });
    await declareSchedules(stack.deps.producer, list, pino({ level: "silent" }));
    try {
      const scheduled = await waitFor(async () => {
        const rows = (await admin.get("/v1/backups")).body.data as Json[];
        const done = (await stack.deps.backups.list()).filter((b) => b.trigger === "scheduled" && b.status === "succeeded");
        return done.length >= 2 && rows.length > 0 ? { rows, done } : undefined;
      }, 40_000, "two scheduled backups");
      for (const b of scheduled.done) expect(b.id).toMatch(/^\d{8}T\d{6}Z-nightly$/);
      // With 1 daily kept, each pruning leaves only the newest published backup.
      const stored = await waitFor(async () => {
        const ids = (await stack.deps.backupStorage.list()).map((b) => b.id);
        return ids.length === 1 ? ids : undefined;
      }, 20_000, "pruning to leave one backup");
      const newest = (await stack.deps.backups.list()).find((b) => b.status === "succeeded");
      expect(stored).toEqual([newest!.id]);
    } finally {
      await declareSchedules(stack.deps.producer, schedules({ VECTOR_MAINTENANCE_EVERY_MS: 600_000, BACKUP_CRON: "off", BACKUP_TZ: "UTC" }), pino({ level: "silent" }));
    }
  }, 90_000);
});
