import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let stack: TestStack;
let acme: ApiClient;
let globex: ApiClient;

beforeAll(async () => {
  stack = await startTestStack({ workers: true });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  globex = apiClient(stack.url, TEST_KEYS.globex);
});
afterAll(async () => {
  await stack?.stop();
});

async function newCollection(name = `c-${Math.random().toString(36).slice(2)}`) {
  const res = await acme.post("/v1/collections", { name });
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string };
}

async function jobEnds(client: ApiClient, jobId: string) {
  return waitFor(async () => {
    const res = await client.get(`/v1/jobs/${jobId}`);
    return ["succeeded", "failed", "cancelled"].includes(res.body?.status) ? res.body : undefined;
  }, 20_000, `job ${jobId} to end`);
}

describe("auth", () => {
  it("answers 401 without a key or with a wrong one", async () => {
    const none = await apiClient(stack.url).get("/v1/collections");
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe("UNAUTHORIZED");
    const wrong = await apiClient(stack.url, "not-a-key-123").get("/v1/collections");
    expect(wrong.status).toBe(401);
  });

  it("leaves /health and /ready open", async () => {
    expect((await apiClient(stack.url).get("/health")).body).toEqual({ status: "ok" });
    const ready = await apiClient(stack.url).get("/ready");
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ redis: { status: "ok" }, postgres: { status: "ok" }, vector_store: { status: "ok" } });
  });
});

describe("collections", () => {
  it("creates one with the default local embedding and refuses a taken name with 409", async () => {
    const res = await acme.post("/v1/collections", { name: "handbook" });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`/v1/collections/${res.body.id}`);
    expect(res.body).toMatchObject({ name: "handbook", document_count: 0, embedding: { provider: "local", model: "quarry-hash-v1", dimensions: 384 } });
    const again = await acme.post("/v1/collections", { name: "handbook" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("COLLECTION_EXISTS");
    // Names are per tenant.
    expect((await globex.post("/v1/collections", { name: "handbook" })).status).toBe(201);
  });

  it("validates the body with a code, a message and the bad fields", async () => {
    const res = await acme.post("/v1/collections", { name: "" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION_ERROR");
    expect(res.body.error.details).toEqual([expect.objectContaining({ field: "name" })]);
    const bad = await acme.call("POST", "/v1/collections", "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("INVALID_JSON");
    const provider = await acme.post("/v1/collections", { name: "x", embedding: { provider: "openai" } });
    expect(provider.status).toBe(422);
    expect(provider.body.error.code).toBe("EMBEDDING_PROVIDER_UNAVAILABLE");
  });

  it("hides other tenants' collections behind 404", async () => {
    const mine = await newCollection();
    expect((await globex.get(`/v1/collections/${mine.id}`)).status).toBe(404);
    expect((await globex.delete(`/v1/collections/${mine.id}`)).status).toBe(404);
    expect((await globex.post(`/v1/collections/${mine.id}/documents`, { text: "hi" })).status).toBe(404);
    expect((await globex.post(`/v1/collections/${mine.id}/search`, { query: "hi" })).status).toBe(404);
    expect((await acme.get(`/v1/collections/not-a-uuid`)).status).toBe(404);
    const list = await globex.get("/v1/collections");
    expect(list.body.data.map((c: { id: string }) => c.id)).not.toContain(mine.id);
  });

  it("lists a tenant's collections page by page", async () => {
    for (let i = 0; i < 3; i++) await newCollection(`paged-${i}`);
    const first = await acme.get("/v1/collections?limit=2");
    expect(first.body.data).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await acme.get(`/v1/collections?limit=2&cursor=${first.body.next_cursor}`);
    const ids = [...first.body.data, ...second.body.data].map((c: { id: string }) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await acme.get("/v1/collections?cursor=garbage")).status).toBe(400);
  });

  it("deletes a collection with its vectors through a job, freeing its name", async () => {
    const c = await newCollection("to-delete");
    const doc = await acme.post(`/v1/collections/${c.id}/documents`, { text: "Soon gone." });
    await jobEnds(acme, doc.body.job.id);
    const del = await acme.delete(`/v1/collections/${c.id}`);
    expect(del.status).toBe(202);
    expect(del.headers.get("location")).toBe(`/v1/jobs/${del.body.job.id}`);
    expect((await acme.get(`/v1/collections/${c.id}`)).status).toBe(404);
    expect((await jobEnds(acme, del.body.job.id)).status).toBe("succeeded");
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId: c.id })).toBe(0);
    expect((await acme.get(`/v1/documents/${doc.body.document.id}`)).status).toBe(404);
    expect((await acme.post("/v1/collections", { name: "to-delete" })).status).toBe(201);
  });
});

describe("documents, jobs and search", () => {
  it("ingests text through a job to ready, and finds it by search", async () => {
    const c = await newCollection();
    const res = await acme.post(`/v1/collections/${c.id}/documents`, {
      text: "Quarry keeps durable job records in Postgres.\n\nBullMQ moves the work through Redis.",
      title: "Architecture",
      metadata: { team: "platform", year: 2025 },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/jobs/${res.body.job.id}`);
    expect(res.body.document).toMatchObject({ status: "queued", title: "Architecture", mime_type: "text/plain", chunk_count: 0 });
    expect(res.body.job).toMatchObject({ type: "ingest_document", status: "queued", progress: 0, attempts: 0, max_attempts: 5 });

    const job = await jobEnds(acme, res.body.job.id);
    expect(job).toMatchObject({ status: "succeeded", progress: 100, attempts: 1, result: { chunk_count: 1 } });
    expect(job.started_at).toEqual(expect.any(String));
    expect(job.finished_at).toEqual(expect.any(String));

    const doc = await acme.get(`/v1/documents/${res.body.document.id}`);
    expect(doc.body).toMatchObject({ status: "ready", chunk_count: 1, collection_id: c.id, metadata: { team: "platform", year: 2025 } });
    expect(doc.body.sha256).toMatch(/^[0-9a-f]{64}$/);

    const search = await acme.post(`/v1/collections/${c.id}/search`, { query: "where are durable job records kept?" });
    expect(search.status).toBe(200);
    expect(search.body.data[0]).toMatchObject({ document_id: res.body.document.id, chunk_index: 0, title: "Architecture", metadata: { team: "platform" } });
    expect(search.body.data[0].text).toContain("durable job records");
    // The local embedder's collections search by keyword by default.
    expect(search.body).toMatchObject({ mode: "keyword", reranked: false });
    expect(search.body.data[0].scores).toEqual({ keyword: search.body.data[0].score });
    expect(search.body.data[0].score).toBeGreaterThan(0);
    const hybrid = await acme.post(`/v1/collections/${c.id}/search`, { query: "where are durable job records kept?", mode: "hybrid" });
    expect(hybrid.body.data[0].scores.vector).toBeGreaterThan(0.2);
    expect(hybrid.body.data[0].scores.keyword).toBeGreaterThan(0);
    expect(hybrid.body.data[0].score).toBeCloseTo(2 / 61, 6); // first in both lists
    const byVector = await acme.post(`/v1/collections/${c.id}/search`, { query: "where are durable job records kept?", mode: "vector" });
    expect(byVector.body.data[0].score).toBe(byVector.body.data[0].scores.vector);
    expect(byVector.body.data[0].score).toBeGreaterThan(0.2);

    const filtered = await acme.post(`/v1/collections/${c.id}/search`, { query: "durable job records", filter: { year: { $lt: 2020 } } });
    expect(filtered.body.data).toEqual([]);
    expect((await acme.get(`/v1/collections/${c.id}`)).body.document_count).toBe(1);
  });

  it("returns the existing document with 200 when the same content is uploaded again", async () => {
    const c = await newCollection();
    const first = await acme.post(`/v1/collections/${c.id}/documents`, { text: "Same bytes twice." });
    const second = await acme.post(`/v1/collections/${c.id}/documents`, { text: "Same bytes twice.", title: "ignored" });
    expect(second.status).toBe(200);
    expect(second.body.document.id).toBe(first.body.document.id);
    expect(second.body.job.id).toBe(first.body.job.id);
  });

  it("fails a document without text with NO_TEXT and does not retry it", async () => {
    const c = await newCollection();
    const res = await acme.post(`/v1/collections/${c.id}/documents`, { text: " \n\n \t" });
    expect(res.status).toBe(202);
    const job = await jobEnds(acme, res.body.job.id);
    expect(job).toMatchObject({ status: "failed", attempts: 1, error: { code: "NO_TEXT" } });
    const doc = await acme.get(`/v1/documents/${res.body.document.id}`);
    expect(doc.body).toMatchObject({ status: "failed", error: { code: "NO_TEXT" } });
  });

  it("deletes a document's vectors and rows through a job, after which the same content can be uploaded again", async () => {
    const c = await newCollection();
    const res = await acme.post(`/v1/collections/${c.id}/documents`, { text: "Delete me, then bring me back." });
    await jobEnds(acme, res.body.job.id);
    const ref = { tenantId: "acme", collectionId: c.id };
    expect(await stack.deps.vectorStore.count(ref, res.body.document.id)).toBe(1);
    expect((await globex.delete(`/v1/documents/${res.body.document.id}`)).status).toBe(404);
    const del = await acme.delete(`/v1/documents/${res.body.document.id}`);
    expect(del.status).toBe(202);
    expect((await jobEnds(acme, del.body.job.id)).status).toBe("succeeded");
    expect(await stack.deps.vectorStore.count(ref, res.body.document.id)).toBe(0);
    expect((await acme.get(`/v1/documents/${res.body.document.id}`)).status).toBe(404);
    const again = await acme.post(`/v1/collections/${c.id}/documents`, { text: "Delete me, then bring me back." });
    expect(again.status).toBe(202);
    expect(again.body.document.id).not.toBe(res.body.document.id);
  });

  it("lists documents by status and jobs by type, and hides other tenants' jobs", async () => {
    const c = await newCollection();
    const a = await acme.post(`/v1/collections/${c.id}/documents`, { text: "alpha document" });
    const b = await acme.post(`/v1/collections/${c.id}/documents`, { text: "   " });
    await jobEnds(acme, a.body.job.id);
    await jobEnds(acme, b.body.job.id);
    const ready = await acme.get(`/v1/collections/${c.id}/documents?status=ready`);
    expect(ready.body.data.map((d: { id: string }) => d.id)).toEqual([a.body.document.id]);
    const failed = await acme.get(`/v1/collections/${c.id}/documents?status=failed`);
    expect(failed.body.data.map((d: { id: string }) => d.id)).toEqual([b.body.document.id]);
    const jobs = await acme.get("/v1/jobs?type=ingest_document&status=failed&limit=100");
    expect(jobs.body.data.map((j: { id: string }) => j.id)).toContain(b.body.job.id);
    expect((await globex.get(`/v1/jobs/${a.body.job.id}`)).status).toBe(404);
    expect((await acme.get("/v1/jobs?status=exploded")).status).toBe(400);
  });

  it("validates search input", async () => {
    const c = await newCollection();
    expect((await acme.post(`/v1/collections/${c.id}/search`, { query: "x", top_k: 101 })).status).toBe(400);
    expect((await acme.post(`/v1/collections/${c.id}/search`, { query: "x", filter: { year: { $regex: "1" } } })).status).toBe(400);
    expect((await acme.post(`/v1/collections/${c.id}/search`, { query: "x", mode: "semantic" })).status).toBe(400);
    expect((await acme.post(`/v1/collections/${c.id}/search`, { query: "x", rerank: "yes" })).status).toBe(400);
    expect((await acme.post(`/v1/collections/${c.id}/search`, { query: "x", weights: { vector: -1 } })).status).toBe(400);
    expect((await acme.post(`/v1/collections/${c.id}/search`, { query: "x", weights: { bm25: 1 } })).status).toBe(400);
    const zero = await acme.post(`/v1/collections/${c.id}/search`, { query: "x", mode: "hybrid", weights: { vector: 0, keyword: 0 } });
    expect(zero.status).toBe(400);
    expect(zero.body.error.message).toContain("cannot both be 0");
    const threshold = await acme.post(`/v1/collections/${c.id}/search`, { query: "x", mode: "keyword", score_threshold: 0.5 });
    expect(threshold.status).toBe(400);
    expect(threshold.body.error.message).toContain("mode vector only");
    // No reranker on this deployment: asking for one is the caller's mistake.
    const rerank = await acme.post(`/v1/collections/${c.id}/search`, { query: "x", rerank: true });
    expect(rerank.status).toBe(422);
    expect(rerank.body.error.code).toBe("RERANK_UNAVAILABLE");
    const empty = await acme.post(`/v1/collections/${c.id}/search`, { query: "nothing here" });
    expect(empty.body).toEqual({ data: [], mode: "keyword", reranked: false });
    // score_threshold without a mode searches by vector (it is a cosine).
    expect((await acme.post(`/v1/collections/${c.id}/search`, { query: "nothing here", score_threshold: 0.1 })).body).toEqual({ data: [], mode: "vector", reranked: false });
  });

  it("rejects non-JSON uploads with 415", async () => {
    const c = await newCollection();
    const form = await acme.call("POST", `/v1/collections/${c.id}/documents`, "plain", { "content-type": "text/plain" });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("answers unknown routes with 404 in the error shape", async () => {
    const res = await acme.get("/v1/nothing");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
  });
});

describe("the OpenAPI description", () => {
  it("describes every route, with request schemas from the validators, and every $ref resolves", async () => {
    const res = await apiClient(stack.url).get("/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe("3.1.0");
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).filter((k) => k !== "parameters").map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        "POST /v1/collections", "GET /v1/collections", "GET /v1/collections/{id}", "DELETE /v1/collections/{id}",
        "POST /v1/collections/{id}/reembed", "POST /v1/collections/{id}/documents", "GET /v1/collections/{id}/documents",
        "GET /v1/documents/{id}", "DELETE /v1/documents/{id}", "POST /v1/collections/{id}/search", "POST /v1/chat",
        "GET /v1/chat/sessions/{id}", "POST /v1/embeddings", "GET /v1/jobs", "GET /v1/jobs/{id}", "POST /v1/jobs/{id}/retry", "POST /v1/jobs/{id}/cancel", "GET /v1/jobs/{id}/events", "GET /health", "GET /ready", "GET /metrics",
        "POST /v1/backups", "GET /v1/backups", "GET /v1/backups/{id}", "POST /v1/backups/{id}/restore",
        "POST /v1/workflows", "GET /v1/workflows", "GET /v1/workflows/signing-secret", "GET /v1/workflows/{id}", "PUT /v1/workflows/{id}", "DELETE /v1/workflows/{id}",
        "POST /v1/workflows/{id}/runs", "GET /v1/workflows/{id}/runs", "GET /v1/workflow-runs/{id}",
        "POST /v1/files", "GET /v1/files", "GET /v1/files/{id}", "DELETE /v1/files/{id}", "GET /v1/files/{id}/content",
        "POST /v1/vector_stores", "GET /v1/vector_stores", "GET /v1/vector_stores/{id}", "POST /v1/vector_stores/{id}", "DELETE /v1/vector_stores/{id}",
        "POST /v1/vector_stores/{id}/search", "POST /v1/vector_stores/{id}/files", "GET /v1/vector_stores/{id}/files",
        "GET /v1/vector_stores/{id}/files/{fileId}", "POST /v1/vector_stores/{id}/files/{fileId}", "DELETE /v1/vector_stores/{id}/files/{fileId}",
        "GET /v1/vector_stores/{id}/files/{fileId}/content", "POST /v1/vector_stores/{id}/file_batches", "GET /v1/vector_stores/{id}/file_batches/{batchId}",
        "POST /v1/vector_stores/{id}/file_batches/{batchId}/cancel", "GET /v1/vector_stores/{id}/file_batches/{batchId}/files",
      ].sort(),
    );
    const search = doc.paths["/v1/collections/{id}/search"].post.requestBody.content["application/json"].schema;
    expect(search.properties.top_k).toMatchObject({ type: "integer", maximum: 100, default: 5 });
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    for (const r of new Set(refs)) expect(doc.components.schemas).toHaveProperty(r.split("/").pop()!);
  });

  it("renders at /docs from the bundled Swagger UI", async () => {
    const page = await fetch(`${stack.url}/docs`);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain('url: "/openapi.json"');
    const bundle = await fetch(`${stack.url}/docs/assets/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
  });
});
