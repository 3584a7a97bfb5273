import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";

/**
 * The api and the worker are separate processes: a cancel posted to the api reaches the worker
 * that holds the job, which stops at its next batch boundary; nothing of the document is left.
 */
describe("cancelling a running job from another process", () => {
  let stub: OpenAIStub;
  let env: TestEnv;
  let api: QuarryProcess;
  let worker: QuarryProcess;
  let client: ApiClient;
  let db: pg.Client;

  beforeAll(async () => {
    stub = await new OpenAIStub().start();
    // Slow embeddings in small batches: the ingest runs long enough to be cancelled midway.
    stub.embeddingDelayMs = 300;
    env = createTestEnv({
      LOG_LEVEL: "info",
      OPENAI_API_KEY: "sk-test-cancel",
      OPENAI_BASE_URL: stub.url,
      EMBEDDING_DIMENSIONS: "32",
      EMBED_BATCH_SIZE: "4",
      WORKER_CONCURRENCY: "ingest=1,embed=1",
    });
    api = spawnQuarry("api/main.ts", env.env);
    worker = spawnQuarry("workers/main.ts", env.env);
    const listening = await api.waitForLog((l) => l.msg === "api listening");
    await worker.waitForLog((l) => l.msg === "worker ready");
    client = apiClient(String(listening.url), TEST_KEYS.acme);
    db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await worker?.stop();
    await api?.stop();
    await stub?.stop();
    await env?.cleanup();
  });

  const job = async (id: string) => (await client.get(`/v1/jobs/${id}`)).body;
  const countVectors = async (collectionId: string, documentId: string) => {
    const store = new EmbeddedVectorStore(path.join(env.dataDir, "vectors"));
    try {
      return await store.count({ tenantId: "acme", collectionId, version: 0 }, documentId);
    } finally {
      await store.close();
    }
  };

  it("stops a running ingest at its next batch: cancelled, the document failed CANCELLED, no chunks, no vectors; a retry then ingests it", async () => {
    const collection = (await client.post("/v1/collections", { name: "cancel-me" })).body;
    const upload = await uploadFile(client.baseUrl, TEST_KEYS.acme, collection.id, { name: "tracemonkey.pdf", content: corpusFile("pdf/tracemonkey.pdf") });
    expect(upload.status).toBe(202);
    const jobId = upload.body.job.id;
    const documentId = upload.body.document.id;
    // Midway: batches are being stored (progress past the parse step), far from done.
    await waitFor(async () => {
      const current = await job(jobId);
      return current.status === "running" && current.progress > 25 ? current : undefined;
    }, 60_000, "the ingest to be embedding");
    const embeddedBefore = stub.count("/v1/embeddings");
    expect(await countVectors(collection.id, documentId)).toBeGreaterThan(0);

    const cancel = await client.post(`/v1/jobs/${jobId}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.headers.get("location")).toBe(`/v1/jobs/${jobId}`);
    expect(cancel.body.job).toMatchObject({ id: jobId, status: "running", cancel_requested_at: expect.any(String) });
    const ended = await waitFor(async () => {
      const current = await job(jobId);
      return current.status !== "running" && current.status !== "queued" ? current : undefined;
    }, 30_000, "the job to end");
    expect(ended).toMatchObject({ status: "cancelled", error: { code: "CANCELLED" } });
    // It stopped at a boundary instead of embedding the rest of the document.
    const chunkTotal = Number((await db.query(`SELECT units_total FROM jobs WHERE id = $1`, [jobId])).rows[0].units_total);
    expect(stub.count("/v1/embeddings") - embeddedBefore).toBeLessThan(Math.ceil(chunkTotal / 4) / 2);
    await worker.waitForLog((l) => l.msg === "cancel received; stopping the job at its next boundary" && l.jobId === jobId, 10_000);

    const document = (await client.get(`/v1/documents/${documentId}`)).body;
    expect(document).toMatchObject({ status: "failed", error: { code: "CANCELLED" }, chunk_count: 0 });
    expect(Number((await db.query(`SELECT count(*) FROM chunks WHERE document_id = $1`, [documentId])).rows[0].count)).toBe(0);
    // The vectors stored before the cancel are removed by the job's end (through the outbox).
    await waitFor(async () => (await countVectors(collection.id, documentId)) === 0, 20_000, "the cancelled document's vectors to be removed");
    const search = await client.post(`/v1/collections/${collection.id}/search`, { query: "trace-based just-in-time compilation" });
    expect(search.body.data).toEqual([]);

    // The bytes were kept: a retry ingests the document from the start.
    const retry = await client.post(`/v1/jobs/${jobId}/retry`);
    expect(retry.status).toBe(202);
    stub.embeddingDelayMs = 0;
    const done = await waitFor(async () => {
      const current = await job(jobId);
      return current.status === "succeeded" || current.status === "failed" ? current : undefined;
    }, 60_000, "the retried job");
    expect(done.status).toBe("succeeded");
    expect((await client.get(`/v1/documents/${documentId}`)).body.status).toBe("ready");
    expect(await countVectors(collection.id, documentId)).toBe(done.result.chunk_count);
  });

  it("stops a running re-embed before it switches over: the collection stays on its model and searches as before", { timeout: 90_000 }, async () => {
    stub.embeddingDelayMs = 0;
    const collection = (await client.post("/v1/collections", { name: "reembed-cancel" })).body;
    const upload = await uploadFile(client.baseUrl, TEST_KEYS.acme, collection.id, { name: "tracemonkey.pdf", content: corpusFile("pdf/tracemonkey.pdf") });
    await waitFor(async () => (await job(upload.body.job.id)).status === "succeeded", 60_000, "the ingest");
    const query = { query: "trace-based just-in-time type specialization", top_k: 3 };
    const before = (await client.post(`/v1/collections/${collection.id}/search`, query)).body.data;
    expect(before.length).toBeGreaterThan(0);

    stub.embeddingDelayMs = 300;
    const reembed = await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "openai", model: "text-embedding-3-small", dimensions: 24 } });
    expect(reembed.status).toBe(202);
    const jobId = reembed.body.job.id;
    await waitFor(async () => {
      const current = await job(jobId);
      return current.status === "running" && current.progress > 10 ? current : undefined;
    }, 60_000, "the re-embed to be embedding");
    expect((await client.post(`/v1/jobs/${jobId}/cancel`)).status).toBe(202);
    const ended = await waitFor(async () => {
      const current = await job(jobId);
      return current.status !== "running" && current.status !== "queued" ? current : undefined;
    }, 30_000, "the re-embed to end");
    expect(ended.status).toBe("cancelled");

    const after = (await client.get(`/v1/collections/${collection.id}`)).body;
    expect(after.embedding).toEqual(collection.embedding);
    expect(after.reembedding_to).toBeUndefined();
    stub.embeddingDelayMs = 0;
    expect((await client.post(`/v1/collections/${collection.id}/search`, query)).body.data).toEqual(before);
    // The half-written generation is dropped; a new re-embed can then run to the end.
    const store = new EmbeddedVectorStore(path.join(env.dataDir, "vectors"));
    try {
      await waitFor(async () => (await store.count({ tenantId: "acme", collectionId: collection.id, version: 1 }).catch(() => 0)) === 0, 20_000, "generation 1 to be dropped");
    } finally {
      await store.close();
    }
    const again = await waitFor(async () => {
      const res = await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "openai", model: "text-embedding-3-small", dimensions: 24 } });
      return res.status === 202 ? res : undefined;
    }, 20_000, "a new re-embed to be accepted");
    const done = await waitFor(async () => {
      const current = await job(again.body.job.id);
      return current.status === "succeeded" || current.status === "failed" ? current : undefined;
    }, 60_000, "the second re-embed");
    expect(done.status).toBe("succeeded");
    expect((await client.get(`/v1/collections/${collection.id}`)).body.embedding.dimensions).toBe(24);
  });

  it("answers 409 for a job that has ended, and for a deletion", async () => {
    const collection = (await client.post("/v1/collections", { name: "ended" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "short and quickly done" });
    await waitFor(async () => (await job(res.body.job.id)).status === "succeeded", 30_000, "the ingest");
    const again = await client.post(`/v1/jobs/${res.body.job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("JOB_NOT_CANCELLABLE");
    const deletion = await client.delete(`/v1/documents/${res.body.document.id}`);
    const refused = await client.post(`/v1/jobs/${deletion.body.job.id}/cancel`);
    expect([409]).toContain(refused.status);
  });
});
