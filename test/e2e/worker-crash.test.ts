import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";

/** Worker processes die and stop while a real PDF is being ingested; nothing is lost or doubled. */
describe("workers that crash or are stopped mid-job", () => {
  let env: TestEnv;
  let api: QuarryProcess;
  let url: string;
  let client: ApiClient;
  const workers: QuarryProcess[] = [];
  const startWorker = async () => {
    const worker = spawnQuarry("workers/main.ts", env.env);
    workers.push(worker);
    await worker.waitForLog((l) => l.msg === "worker ready");
    return worker;
  };

  beforeAll(async () => {
    env = createTestEnv({ LOG_LEVEL: "info", WORKER_LOCK_DURATION_MS: "3000", EMBED_BATCH_SIZE: "64" });
    api = spawnQuarry("api/main.ts", env.env);
    url = String((await api.waitForLog((l) => l.msg === "api listening")).url);
    client = apiClient(url, TEST_KEYS.acme);
  });

  afterAll(async () => {
    for (const w of workers) await w.stop("SIGKILL");
    await api?.stop("SIGKILL");
    await env?.cleanup();
  });

  async function runningJob(jobId: string) {
    return waitFor(async () => ((await client.get(`/v1/jobs/${jobId}`)).body.status === "running" ? true : undefined), 30_000, "the job to start");
  }

  async function finished(jobId: string) {
    return waitFor(async () => {
      const job = (await client.get(`/v1/jobs/${jobId}`)).body;
      return job.status === "succeeded" || job.status === "failed" ? job : undefined;
    }, 90_000, `job ${jobId} to end`);
  }

  it("a SIGKILLed worker's job is picked up by another and finishes exactly once", { timeout: 120_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "crash" })).body;
    const doomed = await startWorker();
    const res = await uploadFile(url, TEST_KEYS.acme, collection.id, { name: "freeculture.pdf", content: corpusFile("pdf/freeculture.pdf") });
    expect(res.status).toBe(202);
    await runningJob(res.body.job.id);
    await doomed.stop("SIGKILL");

    await startWorker();
    const job = await finished(res.body.job.id);
    expect(job).toMatchObject({ status: "succeeded", progress: 100, result: { page_count: 352 } });
    const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
    expect(doc.status).toBe("ready");
    expect(doc.chunk_count).toBeGreaterThan(100);
    // Exactly one vector per chunk: the retried work overwrote its derived point ids.
    const store = new EmbeddedVectorStore(path.join(env.dataDir, "vectors"));
    expect(await store.count({ tenantId: "acme", collectionId: collection.id }, doc.id)).toBe(doc.chunk_count);
    await store.close();
  });

  it("SIGTERM lets the active job finish its step before the worker exits", { timeout: 120_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "drain" })).body;
    for (const w of workers) await w.stop("SIGKILL");
    const draining = await startWorker();
    const res = await uploadFile(url, TEST_KEYS.acme, collection.id, { name: "tracemonkey.pdf", content: corpusFile("pdf/tracemonkey.pdf") });
    await runningJob(res.body.job.id);
    expect(await draining.stop("SIGTERM")).toBe(0);
    expect(draining.logs.some((l) => l.msg === "stopped")).toBe(true);
    // The parse step ended cleanly (no stalled job); its embedding batches wait in the queue for any worker.
    await startWorker();
    expect((await finished(res.body.job.id)).status).toBe("succeeded");
  });
});
