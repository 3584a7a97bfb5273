/**
 * Backups and restores end to end: an api and a worker as separate processes, driven over HTTP
 * with the admin token, on real Postgres, Redis, disk and an S3-compatible server (s3rver).
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";
import { corpusPath } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { spawnQuarry, startApiAndWorker, type QuarryProcess } from "../helpers/processes.ts";
import { ThrowawayS3 } from "../helpers/s3-server.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";

const ADMIN = "backup-admin-token-0001";
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const QUERIES = ["how do tracing JITs compile loops", "free culture and copyright", "which fruit is red", "the quarterly revenue report"];
const TEXTS = [
  "Apples are red or green. Bananas are yellow. Cherries are small and red, and grow on trees.",
  "The quarterly revenue report shows growth in every region, led by strong sales in the north.",
  "Kettles boil water. Toasters brown bread. A blender makes smoothies from fruit and ice.",
];

interface Stack {
  env: TestEnv;
  api: QuarryProcess;
  worker: QuarryProcess;
  url: string;
  acme: ApiClient;
  admin: ApiClient;
  stop(): Promise<void>;
}

async function startStack(env: TestEnv): Promise<Stack> {
  const started = await startApiAndWorker(env.env);
  return { env, ...started, acme: apiClient(started.url, TEST_KEYS.acme), admin: apiClient(started.url, ADMIN) };
}

const ENDED = ["succeeded", "failed", "cancelled"];
async function jobEnds(client: ApiClient, jobId: string, timeoutMs = 60_000): Promise<Json> {
  return waitFor(async () => {
    const res = await client.get(`/v1/jobs/${jobId}`);
    return ENDED.includes(res.body?.status) ? res.body : undefined;
  }, timeoutMs, `job ${jobId} to end`);
}

async function seed(s: Stack, name: string, extra: string[] = []): Promise<{ collection: string; documents: string[] }> {
  const c = await s.acme.post("/v1/collections", { name });
  expect(c.status).toBe(201);
  const jobs: string[] = [];
  const documents: string[] = [];
  for (const file of ["pdf/tracemonkey.pdf", "docx/tables.docx"]) {
    const res = await uploadFile(s.url, TEST_KEYS.acme, c.body.id, { name: path.basename(file), content: readFileSync(corpusPath(file)) }, { metadata: JSON.stringify({ source: file }) });
    expect(res.status).toBe(202);
    jobs.push(res.body.job.id);
    documents.push(res.body.document.id);
  }
  for (const [i, text] of [...TEXTS, ...extra].entries()) {
    const res = await s.acme.post(`/v1/collections/${c.body.id}/documents`, { text, title: `note ${i}`, metadata: { n: i } });
    expect(res.status).toBe(202);
    jobs.push(res.body.job.id);
    documents.push(res.body.document.id);
  }
  for (const job of jobs) expect((await jobEnds(s.acme, job)).status).toBe("succeeded");
  return { collection: c.body.id, documents };
}

/** What a client sees: every hit with its score and citation, and the chat's sources. */
async function answers(s: Stack, collection: string): Promise<Json> {
  const out: Json = {};
  for (const query of QUERIES) {
    const res = await s.acme.post(`/v1/collections/${collection}/search`, { query, top_k: 8 });
    expect(res.status).toBe(200);
    out[query] = res.body.data;
  }
  const chat = await s.acme.post("/v1/chat", { collection_ids: [collection], message: "Which fruit is red?" });
  expect(chat.status).toBe(200);
  out.chat = { answer: chat.body.answer, sources: chat.body.sources };
  return out;
}

async function backupNow(s: Stack, body: Json = {}): Promise<string> {
  const res = await s.admin.post("/v1/backups", body);
  expect(res.status).toBe(202);
  expect(res.headers.get("location")).toBe(`/v1/jobs/${res.body.job.id}`);
  const job = await jobEnds(s.admin, res.body.job.id);
  expect(job, JSON.stringify(job)).toMatchObject({ type: "create_backup", status: "succeeded" });
  return res.body.backup.id;
}

async function restore(s: Stack, backupId: string, body: Json = {}): Promise<Json> {
  const res = await s.admin.post(`/v1/backups/${backupId}/restore`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return jobEnds(s.admin, res.body.job.id);
}

/** Destroys a collection the hard way: its rows and every vector generation, as a lost disk or a bad migration would. */
async function destroy(env: TestEnv, collectionId: string): Promise<void> {
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  await db.query("DELETE FROM collections WHERE id = $1", [collectionId]);
  await db.end();
  const store = new EmbeddedVectorStore(path.join(env.dataDir, "vectors"));
  await store.dropCollection({ tenantId: "acme", collectionId });
  await store.close();
}

/** `node scripts/backups.ts <args>` with its stdout and stderr. */
function spawnQuarryWithArgs(env: Record<string, string>, args: string[]) {
  const child = spawn(process.execPath, ["scripts/backups.ts", ...args], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { out: () => out });
}

const files = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));

let main: Stack;
let seeded: { collection: string; documents: string[] };
let before: Json;
let backupId: string;

beforeAll(async () => {
  // No maintenance after writes: it would update the keyword index between two answers compared
  // here, and a chunk BM25-scored outside the index scores differently once inside it.
  main = await startStack(
    createTestEnv({ ADMIN_TOKEN: ADMIN, BACKUP_CRON: "off", WORKER_LOCK_DURATION_MS: "4000", LOG_LEVEL: "info", VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0" }),
  );
  seeded = await seed(main, "handbook");
  before = await answers(main, seeded.collection);
  backupId = await backupNow(main);
}, 180_000);
afterAll(async () => {
  // A test replaces the worker it killed: stop the one running now (stop() knows only the first).
  await main?.worker.stop("SIGTERM");
  await main?.stop();
  await main?.env.cleanup();
});

describe("a backup", () => {
  it("is listed with its collections, size, checksum and retention class, and its files match the manifest", async () => {
    const res = await main.admin.get(`/v1/backups/${backupId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: backupId,
      trigger: "manual",
      status: "succeeded",
      retention_class: "monthly",
      checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      collections: [{ id: seeded.collection, tenant_id: "acme", name: "handbook", documents: 5 }],
    });
    const [collection] = res.body.collections;
    expect(collection.points).toBe(collection.chunks);
    const dir = path.join(main.env.dataDir, "backups", backupId);
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ format: "quarry.backup", store: { kind: "embedded" }, quarry_version: expect.any(String) });
    expect(manifest.collections[0].embedding).toMatchObject({ provider: "local" });
    const stored = files(dir).filter((f) => !f.endsWith("manifest.json")).map((f) => path.relative(dir, f)).sort();
    expect(stored).toEqual(manifest.files.map((f: Json) => f.name).sort());
    expect(res.body.size_bytes).toBe(stored.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0));
  });

  it("brings a destroyed collection back: the same hits, scores, order and citations", async () => {
    await destroy(main.env, seeded.collection);
    expect((await main.acme.get(`/v1/collections/${seeded.collection}`)).status).toBe(404);
    const job = await restore(main, backupId);
    expect(job).toMatchObject({ status: "succeeded", result: { collections: [{ id: seeded.collection, restored_as: seeded.collection, documents: 5 }] } });
    expect(await answers(main, seeded.collection)).toEqual(before);
    const docs = await main.acme.get(`/v1/collections/${seeded.collection}/documents?limit=100`);
    expect(docs.body.data.map((d: Json) => d.id).sort()).toEqual([...seeded.documents].sort());
    expect(docs.body.data.every((d: Json) => d.status === "ready")).toBe(true);
  });

  it("restores in place over live data: documents uploaded after the backup are dropped (the default)", async () => {
    const late = await main.acme.post(`/v1/collections/${seeded.collection}/documents`, { text: "A late note about zebras crossing the savanna." });
    expect((await jobEnds(main.acme, late.body.job.id)).status).toBe("succeeded");
    expect((await main.acme.get(`/v1/documents/${late.body.document.id}`)).status).toBe(200);
    const job = await restore(main, backupId, { collection_ids: [seeded.collection] });
    expect(job.status).toBe("succeeded");
    expect((await main.acme.get(`/v1/documents/${late.body.document.id}`)).status).toBe(404);
    expect(await answers(main, seeded.collection)).toEqual(before);
    // Uploads are open again once the restore has ended.
    const after = await main.acme.post(`/v1/collections/${seeded.collection}/documents`, { text: "Open again." });
    expect(after.status).toBe(202);
    expect((await jobEnds(main.acme, after.body.job.id)).status).toBe("succeeded");
    await main.acme.delete(`/v1/documents/${after.body.document.id}`);
  });

  it("restores beside the live collection (as_new_collection), under new ids, answering the same", async () => {
    const job = await restore(main, backupId, { as_new_collection: true });
    expect(job.status).toBe("succeeded");
    const restoredAs = job.result.collections[0].restored_as;
    expect(restoredAs).not.toBe(seeded.collection);
    const copy = await main.acme.get(`/v1/collections/${restoredAs}`);
    expect(copy.body).toMatchObject({ name: `handbook (restored ${backupId})`, document_count: 5 });
    const strip = (a: Json) => JSON.parse(JSON.stringify(a).replaceAll(/"document_id":"[^"]+"/g, '"document_id":"-"'));
    expect(strip(await answers(main, restoredAs))).toEqual(strip(before));
    // Running it again is refused: the copy exists.
    expect((await restore(main, backupId, { as_new_collection: true })).error.code).toBe("RESTORE_TARGET_EXISTS");
    expect((await main.acme.delete(`/v1/collections/${restoredAs}`)).status).toBe(202);
  });
});

describe("restoring by hand", () => {
  it("npm run backups: lists, verifies and restores with no api or worker running, into an empty database", async () => {
    const fresh = createTestEnv({ BACKUP_DIR: path.join(main.env.dataDir, "backups"), LOG_LEVEL: "info" });
    const run = async (...args: string[]) => {
      const child = spawnQuarryWithArgs(fresh.env, args);
      const code: number = await new Promise((resolve) => child.on("exit", (c) => resolve(c ?? -1)));
      return { code, out: child.out() };
    };
    let stack: Stack | undefined;
    try {
      const listed = await run("list");
      expect(listed.code).toBe(0);
      expect(listed.out).toContain(backupId);
      const verified = await run("verify", backupId);
      expect(verified.code, verified.out).toBe(0);
      expect(verified.out).toMatch(/\d+ files, 0 bad/);
      const restored = await run("restore", backupId, "--collections", seeded.collection);
      expect(restored.code, restored.out).toBe(0);
      expect(restored.out).toContain(`restored ${seeded.collection} as ${seeded.collection}`);
      expect((await run("restore", "no-such-backup")).code).toBe(1);
      expect((await run("frobnicate")).code).toBe(64);
      stack = await startStack(fresh);
      expect(await answers(stack, seeded.collection)).toEqual(before);
    } finally {
      await stack?.stop();
      await fresh.cleanup();
    }
  }, 120_000);
});

describe("a damaged backup", () => {
  it("is refused before anything changes: a flipped byte, a truncated vectors file", async () => {
    const source = path.join(main.env.dataDir, "backups", backupId);
    const late = await main.acme.post(`/v1/collections/${seeded.collection}/documents`, { text: "Kept because nothing may change: a note about owls." });
    expect((await jobEnds(main.acme, late.body.job.id)).status).toBe("succeeded");
    const live = await answers(main, seeded.collection);
    const records = path.join(source, "collections", seeded.collection, "records.ndjson.gz");
    const original = readFileSync(records);
    const vectors = files(path.join(source, "collections", seeded.collection, "vectors")).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const vectorBytes = readFileSync(vectors);
    try {
      const flipped = Buffer.from(original);
      flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
      writeFileSync(records, flipped);
      const job = await restore(main, backupId);
      expect(job).toMatchObject({ status: "failed", error: { code: "BACKUP_CORRUPT" } });
      expect(job.error.message).toContain("records.ndjson.gz");
      writeFileSync(records, original);
      truncateSync(vectors, Math.floor(vectorBytes.length / 2));
      expect(await restore(main, backupId)).toMatchObject({ status: "failed", error: { code: "BACKUP_CORRUPT" } });
      appendFileSync(vectors, Buffer.alloc(1));
    } finally {
      writeFileSync(records, original);
      writeFileSync(vectors, vectorBytes);
    }
    expect(await answers(main, seeded.collection)).toEqual(live);
    expect((await main.acme.get(`/v1/documents/${late.body.document.id}`)).status).toBe(200);
    // Not held: uploads go on.
    const open = await main.acme.post(`/v1/collections/${seeded.collection}/documents`, { text: "Still open after a refused restore." });
    expect(open.status).toBe(202);
    await jobEnds(main.acme, open.body.job.id);
    // Put the collection back to the backup's state for the tests that follow.
    expect((await restore(main, backupId)).status).toBe("succeeded");
  });
});

describe("a restore killed half-way", () => {
  it("leaves the live data as it was, holds uploads, and completes when a worker runs it again", async () => {
    // Enough collections that the restore takes a while: the worker is killed once it has started on the vectors.
    const many: string[] = [];
    for (let i = 0; i < 12; i++) {
      const c = await main.acme.post("/v1/collections", { name: `bulk-${i}` });
      const res = await main.acme.post(`/v1/collections/${c.body.id}/documents`, { text: `${TEXTS[i % 3]} (copy ${i})` });
      await jobEnds(main.acme, res.body.job.id);
      many.push(c.body.id);
    }
    const big = await backupNow(main);
    const late = await main.acme.post(`/v1/collections/${seeded.collection}/documents`, { text: "Written after the backup: a note about penguins." });
    expect((await jobEnds(main.acme, late.body.job.id)).status).toBe("succeeded");
    const live = await answers(main, seeded.collection);

    const started = await main.admin.post(`/v1/backups/${big}/restore`, {});
    expect(started.status).toBe(202);
    const jobId = started.body.job.id;
    await waitFor(async () => {
      const job = (await main.admin.get(`/v1/jobs/${jobId}`)).body;
      return job.progress > 30 ? job : undefined;
    }, 60_000, "the restore to load vectors");
    main.worker.child.kill("SIGKILL");
    await new Promise((resolve) => main.worker.child.once("exit", resolve));

    expect((await main.admin.get(`/v1/jobs/${jobId}`)).body.status).toBe("running");
    expect(await answers(main, seeded.collection)).toEqual(live);
    const held = await main.acme.post(`/v1/collections/${seeded.collection}/documents`, { text: "Refused while the restore holds the collection." });
    expect(held.status).toBe(409);
    expect(held.body.error.code).toBe("COLLECTION_BUSY");

    main.worker = spawnQuarry("workers/main.ts", main.env.env);
    await main.worker.waitForLog((l) => l.msg === "worker ready");
    const job = await jobEnds(main.admin, jobId, 120_000);
    expect(job.status, JSON.stringify(job)).toBe("succeeded");
    expect((await main.acme.get(`/v1/documents/${late.body.document.id}`)).status).toBe(404);
    expect(await answers(main, seeded.collection)).toEqual(before);
    const open = await main.acme.post(`/v1/collections/${seeded.collection}/documents`, { text: "Open once the restore has ended." });
    expect(open.status).toBe(202);
    await jobEnds(main.acme, open.body.job.id);
    for (const id of many) await main.acme.delete(`/v1/collections/${id}`);
  }, 240_000);
});

describe("a backup taken while documents are being ingested", () => {
  it("restores every document whole or not at all", async () => {
    const c = await main.acme.post("/v1/collections", { name: "busy" });
    const uploads = Array.from({ length: 30 }, (_, i) => `Document ${i}: ${TEXTS[i % 3]} ${"More words about topic number " + i + ". ".repeat(1)}`.repeat(30));
    const pending = uploads.map((text) => main.acme.post(`/v1/collections/${c.body.id}/documents`, { text }));
    const first = await Promise.all(pending.slice(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const id = await backupNow(main, { collection_ids: [c.body.id] });
    const rest = await Promise.all(pending.slice(10));
    for (const res of [...first, ...rest]) await jobEnds(main.acme, res.body.job.id);

    const job = await restore(main, id, { as_new_collection: true });
    expect(job.status).toBe("succeeded");
    const restoredAs = job.result.collections[0].restored_as;
    const db = new pg.Client({ connectionString: main.env.databaseUrl });
    await db.connect();
    const { rows } = await db.query<{ id: string; chunk_count: number; chunks: number }>(
      `SELECT d.id, d.chunk_count, (SELECT count(*) FROM chunks ch WHERE ch.document_id = d.id)::int AS chunks FROM documents d WHERE d.collection_id = $1`,
      [restoredAs],
    );
    await db.end();
    const store = new EmbeddedVectorStore(path.join(main.env.dataDir, "vectors"));
    const collection = (await main.acme.get(`/v1/collections/${restoredAs}`)).body;
    expect(collection.document_count).toBe(rows.length);
    const versions = await store.documentCounts({ tenantId: "acme", collectionId: restoredAs, version: 0 });
    await store.close();
    for (const row of rows) {
      expect(row.chunks).toBe(row.chunk_count);
      expect(versions.get(row.id), `vectors of ${row.id}`).toBe(row.chunk_count);
    }
    expect([...versions.keys()].sort()).toEqual(rows.map((r) => r.id).sort());
    expect(job.result.collections[0].documents).toBe(rows.length);
  }, 120_000);
});

describe("backups in an S3-compatible bucket", () => {
  let s3: ThrowawayS3;
  let alerts: Server;
  const received: Json[] = [];
  let alertUrl = "";
  beforeAll(async () => {
    s3 = await new ThrowawayS3().start();
    alerts = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => alerts.listen(0, "127.0.0.1", resolve));
    const address = alerts.address();
    alertUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/alerts`;
  });
  afterAll(async () => {
    await s3?.stop();
    await new Promise((resolve) => alerts?.close(resolve));
  });

  const s3Env = (bucket: string) => ({
    ADMIN_TOKEN: ADMIN,
    BACKUP_CRON: "off",
    VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0",
    BACKUP_S3_BUCKET: bucket,
    BACKUP_S3_ENDPOINT: s3.endpoint,
    BACKUP_S3_REGION: s3.region,
    BACKUP_S3_PREFIX: "quarry/test",
    BACKUP_S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    BACKUP_S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    ALERT_WEBHOOK_URL: alertUrl,
    // The alert receiver listens on loopback, which the outbound guard refuses unless allowed.
    OUTBOUND_ALLOWLIST: "127.0.0.1",
    LOG_LEVEL: "info",
  });

  it("restore into a fresh install (empty Postgres, empty DATA_DIR) answers as the original did", async () => {
    const origin = await startStack(createTestEnv(s3Env(s3.bucket)));
    let fresh: Stack | undefined;
    try {
      const { collection } = await seed(origin, "handbook");
      const expected = await answers(origin, collection);
      const id = await backupNow(origin);
      fresh = await startStack(createTestEnv(s3Env(s3.bucket)));
      const listed = await fresh.admin.get("/v1/backups");
      expect(listed.body.data.map((b: Json) => b.id)).toContain(id);
      expect(listed.body.data.find((b: Json) => b.id === id)).toMatchObject({ status: "succeeded", job_id: null, collections: [{ id: collection }] });
      expect((await restore(fresh, id)).status).toBe("succeeded");
      expect(await answers(fresh, collection)).toEqual(expected);
    } finally {
      await fresh?.stop();
      await fresh?.env.cleanup();
      await origin.stop();
      await origin.env.cleanup();
    }
  }, 180_000);

  it("a backup that fails is logged as an error, recorded failed, and posted to ALERT_WEBHOOK_URL", async () => {
    const broken = await startStack(createTestEnv(s3Env("no-such-bucket")));
    try {
      const res = await broken.admin.post("/v1/backups", {});
      const job = await jobEnds(broken.admin, res.body.job.id);
      expect(job).toMatchObject({ status: "failed", error: { code: "BACKUP_STORAGE_REJECTED" } });
      expect((await broken.admin.get(`/v1/backups/${res.body.backup.id}`)).body).toMatchObject({ status: "failed", retention_class: null, error: { code: "BACKUP_STORAGE_REJECTED" } });
      const alert = await waitFor(async () => received.find((a) => a.backup_id === res.body.backup.id), 20_000, "the alert");
      expect(alert).toMatchObject({ event: "backup.failed", job_id: res.body.job.id, trigger: "manual", error: { code: "BACKUP_STORAGE_REJECTED" }, last_success_at: null });
      // The outbox relay of whichever process claimed the row writes it.
      const logged = await Promise.any([broken.worker, broken.api].map((p) => p.waitForLog((l) => l.msg === "backup failed", 20_000)));
      expect(logged.level).toBe("error");
      expect(broken.worker.output()).not.toContain(s3.credentials.secretAccessKey + "\"");
    } finally {
      await broken.stop();
      await broken.env.cleanup();
    }
  }, 120_000);
});
