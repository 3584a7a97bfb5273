import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let stub: OpenAIStub;
let stack: TestStack;
let client: ApiClient;

beforeAll(async () => {
  stub = await new OpenAIStub().start();
  stack = await startTestStack({
    workers: true,
    env: {
      OPENAI_API_KEY: "sk-test-pipeline",
      OPENAI_BASE_URL: stub.url,
      EMBEDDING_MODEL: "text-embedding-3-small",
      EMBEDDING_DIMENSIONS: "48",
      OPENAI_MAX_RETRIES: "1",
      EMBED_BATCH_SIZE: "16",
      JOB_ATTEMPTS: "3",
    },
  });
  client = apiClient(stack.url, TEST_KEYS.acme);
});
afterAll(async () => {
  await stack?.stop();
  await stub?.stop();
});

async function settled(jobId: string, timeoutMs = 60_000) {
  return waitFor(async () => {
    const job = (await client.get(`/v1/jobs/${jobId}`)).body;
    return job.status === "succeeded" || job.status === "failed" ? job : undefined;
  }, timeoutMs, `job ${jobId}`);
}

describe("ingestion with an OpenAI-compatible provider", () => {
  it("defaults new collections to the configured model and records it", async () => {
    const res = await client.post("/v1/collections", { name: "openai-default" });
    expect(res.body.embedding).toEqual({ provider: "openai", model: "text-embedding-3-small", dimensions: 48 });
    const local = await client.post("/v1/collections", { name: "still-local", embedding: { provider: "local" } });
    expect(local.body.embedding.provider).toBe("local");
  });

  it("learns an unknown model's dimensions by asking the endpoint once", async () => {
    stub.nativeDimensions = 24;
    const res = await client.post("/v1/collections", { name: "probed", embedding: { provider: "openai", model: "nomic-embed-text" } });
    stub.nativeDimensions = 64;
    expect(res.body.embedding).toEqual({ provider: "openai", model: "nomic-embed-text", dimensions: 24 });
  });

  it("asks an unknown model's dimensions once per process, and refuses to shorten a model that cannot", async () => {
    const probes = () => stub.requests.filter((r) => JSON.stringify(r.body.input) === JSON.stringify(["dimension probe"])).length;
    const before = probes();
    for (let i = 0; i < 3; i++) expect((await client.post("/v1/embeddings", { input: "hello", model: "mxbai-embed-large" })).status).toBe(200);
    expect(probes() - before).toBe(1);
    const shorter = await client.post("/v1/embeddings", { input: "hello", model: "mxbai-embed-large", dimensions: 10 });
    expect(shorter.status).toBe(422);
    expect(shorter.body.error.code).toBe("EMBEDDING_DIMENSIONS_UNSUPPORTED");
    const shortened = await client.post("/v1/embeddings", { input: "hello", model: "text-embedding-3-small", dimensions: 10 });
    expect(shortened.body.data[0].embedding).toHaveLength(10);
  });

  it("batches many chunks per provider call and survives a 429 burst and a 500 on the way", { timeout: 90_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "freeculture" })).body;
    const before = stub.count("/v1/embeddings");
    stub.fail(
      "/v1/embeddings",
      { status: 429, headers: { "retry-after-ms": "20" } },
      { status: 429, headers: { "retry-after-ms": "20" } },
      { status: 500 },
      { status: 500 },
      { status: 429, headers: { "retry-after": "1" } },
      { status: 429, headers: { "retry-after": "1" } },
    );
    const res = await uploadFile(stack.url, TEST_KEYS.acme, collection.id, { name: "tracemonkey.pdf", content: corpusFile("pdf/tracemonkey.pdf") });
    const job = await settled(res.body.job.id);
    expect(job.status).toBe("succeeded");
    const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId: collection.id }, doc.id)).toBe(doc.chunk_count);
    const calls = stub.requests.slice(before).filter((r) => r.path === "/v1/embeddings" && Array.isArray(r.body.input));
    const inputs = calls.map((r) => (r.body.input as string[]).length);
    expect(Math.max(...inputs)).toBe(16);
    expect(calls.length).toBeLessThan(doc.chunk_count);
    // Query embeddings use the collection's model too.
    const search = await client.post(`/v1/collections/${collection.id}/search`, { query: "trace trees", top_k: 2 });
    expect(search.body.data).toHaveLength(2);
    expect(stub.requests.at(-1)!.body).toMatchObject({ model: "text-embedding-3-small", dimensions: 48, input: ["trace trees"] });
    // The same query again (and in another mode) is answered from the query-embedding cache.
    const embeddings = stub.count("/v1/embeddings");
    const again = await client.post(`/v1/collections/${collection.id}/search`, { query: "trace trees", top_k: 2, mode: "hybrid" });
    expect(again.body.data.length).toBeGreaterThan(0);
    expect(stub.count("/v1/embeddings")).toBe(embeddings);
    expect(again.headers.get("server-timing")).toMatch(/embed;dur=[\d.]+, vector;dur=[\d.]+|vector;dur=/);
    await client.post(`/v1/collections/${collection.id}/search`, { query: "trace trees and loops", top_k: 2 });
    expect(stub.count("/v1/embeddings")).toBe(embeddings + 1);
  });

  it("fails the document at once when the provider rejects the request (4xx), without retrying", async () => {
    const collection = (await client.post("/v1/collections", { name: "rejected" })).body;
    stub.fail("/v1/embeddings", { status: 400, body: { error: { message: "model does not exist" } } });
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "a short note that will be rejected" });
    const job = await settled(res.body.job.id);
    expect(job).toMatchObject({ status: "failed", error: { code: "EMBEDDING_REQUEST_REJECTED" } });
    const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
    expect(doc).toMatchObject({ status: "failed", error: { code: "EMBEDDING_REQUEST_REJECTED" } });
  });

  it("retries a failed ingest on request, from the start, and the document becomes ready", async () => {
    const collection = (await client.post("/v1/collections", { name: "retry-me" })).body;
    stub.fail("/v1/embeddings", { status: 400, body: { error: { message: "temporarily misconfigured" } } });
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "a note that fails once, then works" });
    expect((await settled(res.body.job.id)).status).toBe("failed");
    // Uploading the same bytes again answers with the failed document: retrying is how to go on.
    const again = await client.post(`/v1/collections/${collection.id}/documents`, { text: "a note that fails once, then works" });
    expect(again.status).toBe(200);
    expect(again.body.document.status).toBe("failed");

    const retry = await client.post(`/v1/jobs/${res.body.job.id}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.headers.get("location")).toBe(`/v1/jobs/${res.body.job.id}`);
    expect(retry.body.job).toMatchObject({ id: res.body.job.id, status: "queued", attempts: 0 });
    expect((await client.get(`/v1/documents/${res.body.document.id}`)).body.status).not.toBe("failed");
    const job = await settled(res.body.job.id);
    expect(job).toMatchObject({ status: "succeeded", progress: 100 });
    expect(job).not.toHaveProperty("error");
    expect((await client.get(`/v1/documents/${res.body.document.id}`)).body).toMatchObject({ status: "ready", chunk_count: 1 });

    const twice = await client.post(`/v1/jobs/${res.body.job.id}/retry`);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe("JOB_NOT_RETRYABLE");
    expect((await apiClient(stack.url, TEST_KEYS.globex).post(`/v1/jobs/${res.body.job.id}/retry`)).status).toBe(404);
  });

  it("answers search with 429 and Retry-After when the provider rate-limits the query embedding", async () => {
    const collection = (await client.post("/v1/collections", { name: "busy" })).body;
    stub.fail("/v1/embeddings", { status: 429, headers: { "retry-after": "3" } }, { status: 429, headers: { "retry-after": "3" } });
    const res = await client.post(`/v1/collections/${collection.id}/search`, { query: "anything" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(res.body.error).toMatchObject({ code: "EMBEDDING_RATE_LIMITED", retry_after: 3 });
  });
});

describe("re-embedding a collection with another model", () => {
  it("migrates every chunk to the new model, switches searches over, and refuses uploads meanwhile", { timeout: 90_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "migrate-me", embedding: { provider: "local" } })).body;
    const docs = [];
    for (const text of ["Postgres keeps durable job records.", "Redis carries the queues.", "LanceDB stores vectors on disk."]) {
      const res = await client.post(`/v1/collections/${collection.id}/documents`, { text });
      docs.push(res.body);
      await settled(res.body.job.id);
    }
    stub.embeddingDelayMs = 1_500; // keep the migration running while we poke at it
    const reembed = await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "openai", model: "text-embedding-3-large", dimensions: 40 } });
    expect(reembed.status).toBe(202);
    expect(reembed.headers.get("location")).toBe(`/v1/jobs/${reembed.body.job.id}`);
    const again = await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "local" } });
    const during = await client.post(`/v1/collections/${collection.id}/documents`, { text: "uploaded during the migration" });
    const job = await settled(reembed.body.job.id);
    stub.embeddingDelayMs = 0;
    expect(job).toMatchObject({ status: "succeeded", progress: 100, result: { vector_version: 1, chunk_count: 3 } });
    // While it ran, a second re-embed and new uploads were refused.
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("REEMBED_IN_PROGRESS");
    expect(during.status).toBe(409);
    expect(during.body.error.code).toBe("COLLECTION_BUSY");
    expect(during.headers.get("retry-after")).toBe("30");

    const after = (await client.get(`/v1/collections/${collection.id}`)).body;
    expect(after.embedding).toEqual({ provider: "openai", model: "text-embedding-3-large", dimensions: 40 });
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId: collection.id, version: 0 })).toBe(0);
    const search = await client.post(`/v1/collections/${collection.id}/search`, { query: "where do the queues live?", top_k: 1 });
    expect(search.body.data[0].text).toBe("Redis carries the queues.");
    expect(stub.requests.at(-1)!.body).toMatchObject({ model: "text-embedding-3-large", dimensions: 40 });
  });

  it("refuses a model this deployment cannot serve", async () => {
    const collection = (await client.post("/v1/collections", { name: "stay" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "cohere" } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("EMBEDDING_PROVIDER_UNSUPPORTED");
  });
});
