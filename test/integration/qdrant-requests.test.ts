import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { QdrantVectorStore } from "../../shared/vector-store/qdrant.vector-store.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient } from "../helpers/http.ts";
import { QdrantRecorder } from "../helpers/qdrant-recorder.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

const COLLECTION = "3f2b8c4e-1d2a-4b7c-9e1f-0a1b2c3d4e5f";
const NAME = "quarry_3f2b8c4e1d2a4b7c9e1f0a1b2c3d4e5f";
const DOC = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const ref = { tenantId: "acme", collectionId: COLLECTION };

let recorder: QdrantRecorder;
let store: QdrantVectorStore;
beforeAll(async () => {
  recorder = await new QdrantRecorder().start();
  store = new QdrantVectorStore({ url: recorder.url, apiKey: "qdrant-secret" });
});
afterAll(() => recorder.stop());
beforeEach(() => {
  recorder.calls.length = 0;
  recorder.failWith = undefined;
  recorder.failCount = undefined;
});

describe("requests the Qdrant adapter sends", () => {
  it("creates one cosine collection per Quarry collection and generation, with payload indexes", async () => {
    await store.ensureCollection({ ...ref, version: 2 }, 384);
    const calls = recorder.calls.map((c) => `${c.method} ${c.path}`);
    expect(calls).toEqual([
      `GET /collections/${NAME}_v2/exists`,
      `PUT /collections/${NAME}_v2`,
      `PUT /collections/${NAME}_v2/index`,
      `PUT /collections/${NAME}_v2/index`,
      `PUT /collections/${NAME}_v2/index`,
    ]);
    expect(recorder.calls[1]!.body).toMatchObject({ vectors: { size: 384, distance: "Cosine" } });
    expect(recorder.calls.slice(2).map((c) => c.body)).toEqual([
      { field_name: "tenant_id", field_schema: { type: "keyword", is_tenant: true } },
      { field_name: "document_id", field_schema: "keyword" },
      { field_name: "chunk_index", field_schema: "integer" },
    ]);
    expect(recorder.calls.every((c) => c.apiKey === "qdrant-secret")).toBe(true);
  });

  it("upserts in batches of 256 with wait=true and the tenant, document and metadata in the payload", async () => {
    const points = Array.from({ length: 300 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      vector: [0.6, 0.8],
      documentId: DOC,
      chunkIndex: i,
      metadata: { team: "billing" },
    }));
    await store.upsert(ref, points);
    expect(recorder.calls.map((c) => [c.method, c.path, c.query])).toEqual([
      ["PUT", `/collections/${NAME}/points`, "wait=true"],
      ["PUT", `/collections/${NAME}/points`, "wait=true"],
    ]);
    const first = recorder.calls[0]!.body as { points: unknown[] };
    expect(first.points).toHaveLength(256);
    expect(first.points[0]).toEqual({
      id: points[0]!.id,
      vector: [0.6, 0.8],
      payload: { tenant_id: "acme", collection_id: COLLECTION, document_id: DOC, chunk_index: 0, metadata: { team: "billing" } },
    });
  });

  it("queries with the tenant filter, the translated metadata filter, top-k and threshold, and maps the answer", async () => {
    recorder.queryPoints = [{ id: "p1", score: 0.91, payload: { document_id: DOC, chunk_index: 4 } }];
    const hits = await store.search(ref, [1, 0], { topK: 7, filter: { year: { $gte: 2020 } }, scoreThreshold: 0.3 });
    expect(hits).toEqual([{ id: "p1", documentId: DOC, chunkIndex: 4, score: 0.91 }]);
    expect(recorder.calls[0]).toMatchObject({ method: "POST", path: `/collections/${NAME}/points/query` });
    expect(recorder.calls[0]!.body).toEqual({
      query: [1, 0],
      filter: { must: [{ key: "tenant_id", match: { value: "acme" } }, { key: "metadata.year", range: { gte: 2020 } }] },
      limit: 7,
      with_payload: ["document_id", "chunk_index"],
      score_threshold: 0.3,
    });
  });

  it("deletes and counts by a tenant + document filter", async () => {
    await store.deleteDocument(ref, DOC);
    expect(await store.count(ref, DOC)).toBe(7);
    const filter = { must: [{ key: "tenant_id", match: { value: "acme" } }, { key: "document_id", match: { value: DOC } }] };
    expect(recorder.calls[0]).toMatchObject({ method: "POST", path: `/collections/${NAME}/points/delete`, query: "wait=true", body: { filter } });
    expect(recorder.calls[1]).toMatchObject({ method: "POST", path: `/collections/${NAME}/points/count`, body: { exact: true, filter } });
  });

  it("treats a missing collection as empty for search and count", async () => {
    recorder.failWith = 404;
    expect(await store.search(ref, [1], { topK: 3 })).toEqual([]);
    expect(await store.count(ref)).toBe(0);
  });
});

describe("when Qdrant fails", () => {
  it("maps 5xx, 429 and unreachable servers to a retryable VECTOR_STORE_UNAVAILABLE (503)", async () => {
    for (const status of [500, 503, 429]) {
      recorder.failWith = status;
      await expect(store.search(ref, [1], { topK: 3 })).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE", httpStatus: 503, retryable: true, retryAfter: 5 });
    }
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));
    const dead = new QdrantVectorStore({ url: `http://127.0.0.1:${port}` });
    await expect(dead.ping()).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE" });
    await expect(dead.upsert(ref, [{ id: "x", vector: [1], documentId: DOC, chunkIndex: 0, metadata: {} }])).rejects.toMatchObject({ retryable: true });
  });

  it("maps other 4xx to a permanent VECTOR_STORE_REJECTED", async () => {
    recorder.failWith = 400;
    await expect(store.upsert(ref, [{ id: "x", vector: [1], documentId: DOC, chunkIndex: 0, metadata: {} }])).rejects.toMatchObject({
      code: "VECTOR_STORE_REJECTED",
      retryable: false,
    });
  });
});

describe("the API and workers on a failing Qdrant", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ workers: true, env: { QDRANT_URL: recorder.url, EMBED_BATCH_SIZE: "8" } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("uses Qdrant when QDRANT_URL is set", () => {
    expect(stack.deps.vectorStore.kind).toBe("qdrant");
  });

  it("answers /ready with 503 and search with 503 + Retry-After, not 500", async () => {
    const client = apiClient(stack.url, TEST_KEYS.acme);
    const collection = await client.post("/v1/collections", { name: "q" });
    expect(collection.status).toBe(201);
    recorder.failWith = 503;
    const ready = await apiClient(stack.url).get("/ready");
    expect(ready.status).toBe(503);
    expect(ready.body.checks.vector_store.status).toBe("down");
    const search = await client.post(`/v1/collections/${collection.body.id}/search`, { query: "anything" });
    expect(search.status).toBe(503);
    expect(search.headers.get("retry-after")).toBe("5");
    expect(search.body.error.code).toBe("VECTOR_STORE_UNAVAILABLE");
    recorder.failWith = undefined;
  });

  it("retries an ingest whose upserts fail while Qdrant is down, and finishes when it is back", { timeout: 60_000 }, async () => {
    const client = apiClient(stack.url, TEST_KEYS.acme);
    const collection = await client.post("/v1/collections", { name: "q-retry" });
    recorder.calls.length = 0;
    recorder.failWith = 503;
    recorder.failCount = 2; // the first two Qdrant calls after upload fail
    const res = await client.post(`/v1/collections/${collection.body.id}/documents`, { text: "Qdrant comes back." });
    const job = await waitFor(async () => {
      const body = (await client.get(`/v1/jobs/${res.body.job.id}`)).body;
      return body.status === "succeeded" || body.status === "failed" ? body : undefined;
    }, 45_000);
    expect(job.status).toBe("succeeded");
    // Two refused upserts, retried with backoff, then the one that landed.
    const upserts = recorder.calls.filter((c) => c.method === "PUT" && c.path.endsWith("/points"));
    expect(upserts).toHaveLength(3);
  });
});
