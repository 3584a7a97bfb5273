/**
 * Faults an operator meets at 3 a.m., survived by real processes, each on a Redis of its own:
 * workers SIGKILLed again and again through a large ingest, and Redis (AOF on) stopped for 10 s
 * mid-run. Postgres restarts are in postgres-restart.test.ts, SIGTERM drains in worker-crash.test.ts;
 * `npm run test:faults` runs all of them alone.
 */
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";
import { ThrowawayRedis } from "../helpers/throwaway-redis.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const started: QuarryProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop("SIGKILL")));
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function spawn(script: string, env: TestEnv): QuarryProcess {
  const proc = spawnQuarry(script, env.env);
  started.push(proc);
  return proc;
}

async function startWorker(env: TestEnv): Promise<QuarryProcess> {
  const worker = spawn("workers/main.ts", env);
  await worker.waitForLog((l) => l.msg === "worker ready");
  return worker;
}

async function stack(options: { appendOnly?: boolean; env?: Record<string, string> } = {}) {
  const redis = await new ThrowawayRedis({ appendOnly: options.appendOnly }).start();
  const env = createTestEnv({ REDIS_URL: redis.url, LOG_LEVEL: "info", ...options.env });
  cleanups.push(() => redis.cleanup(), () => env.cleanup());
  const api = spawn("api/main.ts", env);
  const url = String((await api.waitForLog((l) => l.msg === "api listening")).url);
  return { redis, env, api, url, client: apiClient(url, TEST_KEYS.acme) };
}

/** A document of a few paragraphs (several chunks at a small CHUNK_SIZE), different each time. */
const documentText = (i: number, paragraphs = 4) =>
  Array.from({ length: paragraphs }, (_, p) => `Document ${i}, part ${p}: herons ${i * 7 + p} wade in shallow water and wait for fish; the marsh holds ${p + i} reeds.`).join("\n\n");

async function documentsOf(client: ApiClient, collectionId: string): Promise<Json[]> {
  const all: Json[] = [];
  let cursor: string | null = null;
  do {
    const page: Json = (await client.get(`/v1/collections/${collectionId}/documents?limit=100${cursor ? `&cursor=${cursor}` : ""}`)).body;
    all.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}

const alive = (p: QuarryProcess) => p.child.exitCode === null && p.child.signalCode === null;

describe("workers SIGKILLed every few seconds through a 120-document ingest", () => {
  it("lose nothing: every document ready, one vector per chunk, no job left running", { timeout: 240_000 }, async () => {
    const s = await stack({ env: { WORKER_LOCK_DURATION_MS: "3000", CHUNK_SIZE: "60", CHUNK_OVERLAP: "10" } });
    let workers = [await startWorker(s.env), await startWorker(s.env)];
    const collectionId = (await s.client.post("/v1/collections", { name: "kill-9", embedding: { provider: "local" } })).body.id;
    const total = 120;
    const accepted: string[] = [];
    // Uploads keep coming while the workers die: the kills land on parses, embeddings and job ends.
    const uploading = (async () => {
      for (let i = 0; i < total; i += 5) {
        const batch = await Promise.all(Array.from({ length: 5 }, (_, j) => s.client.post(`/v1/collections/${collectionId}/documents`, { text: documentText(i + j, 16) })));
        for (const res of batch) {
          expect(res.status).toBe(202);
          accepted.push(res.body.document.id);
        }
        // Spread over ~12 s, so that at least three kills land while documents are still coming
        // (a faster ingest once finished between the second and the third).
        await sleep(500);
      }
    })();

    // Kill a worker (no drain, no goodbye) every 2 s and start another, until the ingest is done.
    let kills = 0;
    const deadline = Date.now() + 150_000;
    for (;;) {
      const docs = await documentsOf(s.client, collectionId);
      if (accepted.length === total && docs.length === total && docs.every((d) => d.status === "ready" || d.status === "failed")) break;
      expect(Date.now(), `ingest under kill -9 did not finish; ${docs.filter((d) => d.status === "ready").length}/${total} ready`).toBeLessThan(deadline);
      await sleep(2_000);
      const victim = workers[kills % workers.length]!;
      await victim.stop("SIGKILL");
      kills++;
      workers = [...workers.filter((w) => w !== victim), await startWorker(s.env)];
    }
    await uploading;
    expect(kills).toBeGreaterThanOrEqual(3);

    const docs = await documentsOf(s.client, collectionId);
    expect(docs.filter((d) => d.status !== "ready").map((d) => [d.id, d.status, d.error])).toEqual([]);
    expect(docs.map((d) => d.id).sort()).toEqual([...accepted].sort());
    const chunks = docs.reduce((sum, d) => sum + (d.chunk_count as number), 0);
    expect(chunks).toBeGreaterThan(total); // several chunks each
    const store = new EmbeddedVectorStore(path.join(s.env.dataDir, "vectors"));
    try {
      expect(await store.count({ tenantId: "acme", collectionId, version: 0 })).toBe(chunks);
    } finally {
      await store.close?.();
    }
    for (const status of ["running", "queued", "failed"]) {
      expect((await s.client.get(`/v1/jobs?status=${status}&limit=100`)).body.data, status).toEqual([]);
    }
    expect((await s.client.post(`/v1/collections/${collectionId}/search`, { query: "herons 77 wade" })).status).toBe(200);
  });
});

describe("Redis (AOF on) stopped for 10 s mid-run", () => {
  it("refuses new work with 503 + Retry-After meanwhile, keeps serving reads, and every accepted job finishes", { timeout: 180_000 }, async () => {
    const s = await stack({ appendOnly: true });
    const worker = await startWorker(s.env);
    const scheduler = spawn("scheduler/main.ts", s.env);
    const opsUrl = String((await scheduler.waitForLog((l) => l.msg === "ops listening")).url);
    await scheduler.waitForLog((l) => String(l.msg).startsWith("scheduler ready"));
    const collectionId = (await s.client.post("/v1/collections", { name: "outage", embedding: { provider: "local" } })).body.id;

    const accepted: string[] = [];
    const upload = async (i: number) => {
      const res = await s.client.post(`/v1/collections/${collectionId}/documents`, { text: documentText(1000 + i) });
      if (res.status === 202) accepted.push(res.body.document.id);
      return res;
    };
    for (let i = 0; i < 30; i++) expect((await upload(i)).status).toBe(202);

    await s.redis.stop(); // kill -9: with appendfsync always, nothing acknowledged is lost
    const downAt = Date.now();
    const refused = await upload(100);
    expect([refused.status, refused.body.error.code]).toEqual([503, "QUEUE_UNAVAILABLE"]);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await s.client.get(`/v1/documents/${accepted[0]}`)).status).toBe(200);
    expect((await s.client.get(`/v1/collections/${collectionId}`)).status).toBe(200);
    expect((await apiClient(s.url).get("/ready")).status).toBe(503);
    await sleep(Math.max(0, 10_000 - (Date.now() - downAt)));
    expect([s.api, worker, scheduler].every(alive)).toBe(true);

    await s.redis.start();
    // Every process reconnects by itself; new work is taken again.
    await waitFor(async () => (await upload(200)).status === 202, 30_000, "uploads to be accepted again");
    await waitFor(async () => (await apiClient(opsUrl).get("/ready")).status === 200, 30_000, "the scheduler to be ready again");
    await waitFor(async () => {
      const docs = await documentsOf(s.client, collectionId);
      return accepted.every((id) => docs.find((d) => d.id === id)?.status === "ready");
    }, 90_000, "every accepted document to be ready");
    // The only failed jobs are the refused requests' (recorded, never applied).
    const failed = (await s.client.get("/v1/jobs?status=failed&limit=100")).body.data as Json[];
    expect(failed.filter((j) => j.error?.code !== "QUEUE_UNAVAILABLE").map((j) => [j.type, j.error])).toEqual([]);
    expect(Date.now() - downAt).toBeLessThan(120_000);
    expect([s.api, worker, scheduler].every(alive)).toBe(true);
  });
});
