import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { pointId } from "../../shared/use-cases/point-id.ts";
import { documentSparseVector, querySparseVector } from "../../shared/vector-store/bm25-sparse.ts";
import { QdrantVectorStore } from "../../shared/vector-store/qdrant.vector-store.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient } from "../helpers/http.ts";
import { QdrantRecorder } from "../helpers/qdrant-recorder.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

const COLLECTION = "3f2b8c4e-1d2a-4b7c-9e1f-0a1b2c3d4e5f";
const NAME = "quarry_3f2b8c4e1d2a4b7c9e1f0a1b2c3d4e5f";
const DOC = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const ref = { tenantId: "acme", collectionId: COLLECTION };
const TENANT = { key: "tenant_id", match: { value: "acme" } };
const WITHOUT_TEXT = { must: [TENANT, { is_empty: { key: "text" } }] };

let recorder: QdrantRecorder;
/** A fresh adapter per test: what it caches about collections must not leak between tests. */
let store: QdrantVectorStore;
beforeAll(async () => {
  recorder = await new QdrantRecorder().start();
});
afterAll(() => recorder.stop());
beforeEach(() => {
  recorder.calls.length = 0;
  recorder.failWith = undefined;
  recorder.failCount = undefined;
  recorder.exists = false;
  recorder.sparseVectors = { text: { modifier: "idf" } };
  recorder.createVectorStatus = 200;
  recorder.scrollPoints = [];
  recorder.countResult = 7;
  recorder.queryPoints = [];
  recorder.answer = undefined;
  store = new QdrantVectorStore({ url: recorder.url, apiKey: "qdrant-secret" });
});
const sent = () => recorder.calls.map((c) => `${c.method} ${c.path}${c.query ? `?${c.query}` : ""}`);

describe("requests the Qdrant adapter sends", () => {
  it("creates one collection per Quarry collection and generation: an unnamed cosine vector, the sparse `text` vector with IDF, payload indexes", async () => {
    await store.ensureCollection({ ...ref, version: 2 }, 384);
    const calls = recorder.calls.map((c) => `${c.method} ${c.path}`);
    expect(calls).toEqual([
      `GET /collections/${NAME}_v2/exists`,
      `PUT /collections/${NAME}_v2`,
      `PUT /collections/${NAME}_v2/index`,
      `PUT /collections/${NAME}_v2/index`,
      `PUT /collections/${NAME}_v2/index`,
    ]);
    expect(recorder.calls[1]!.body).toEqual({ vectors: { size: 384, distance: "Cosine" }, sparse_vectors: { text: { modifier: "idf" } } });
    expect(recorder.calls.slice(2).map((c) => c.body)).toEqual([
      { field_name: "tenant_id", field_schema: { type: "keyword", is_tenant: true } },
      { field_name: "document_id", field_schema: "keyword" },
      { field_name: "chunk_index", field_schema: "integer" },
    ]);
    expect(recorder.calls.every((c) => c.apiKey === "qdrant-secret")).toBe(true);
  });

  it("upserts in batches of 256 with wait=true: the dense vector unnamed, the BM25 terms as `text`, tenant, document, metadata and text in the payload", async () => {
    const points = Array.from({ length: 300 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      vector: [0.6, 0.8],
      documentId: DOC,
      chunkIndex: i,
      metadata: { team: "billing" },
      text: [`Invoices are sent nightly, run ${i}.`, "...", ""][Math.min(i, 2)]!,
    }));
    await store.upsert(ref, points);
    // The collection's configuration is read once, to know whether it has the `text` vector.
    expect(sent()).toEqual([`GET /collections/${NAME}`, `PUT /collections/${NAME}/points?wait=true`, `PUT /collections/${NAME}/points?wait=true`]);
    const first = recorder.calls[1]!.body as { points: unknown[] };
    expect(first.points).toHaveLength(256);
    expect(first.points[0]).toEqual({
      id: points[0]!.id,
      vector: { "": [0.6, 0.8], text: documentSparseVector("Invoices are sent nightly, run 0.") },
      payload: { tenant_id: "acme", collection_id: COLLECTION, document_id: DOC, chunk_index: 0, metadata: { team: "billing" }, text: "Invoices are sent nightly, run 0." },
    });
    expect(documentSparseVector("Invoices are sent nightly, run 0.").indices.length).toBeGreaterThan(0);
    // A text without terms gets no sparse vector (nothing to find it by), but its text.
    expect(first.points[1]).toMatchObject({ vector: { "": [0.6, 0.8] }, payload: { text: "..." } });
    expect((first.points[1] as { vector: object }).vector).not.toHaveProperty("text");
    // An empty text is taken for no text (a store's scan answers "" for a point without): the point is left for maintenance to fill in.
    expect(first.points[2]).toEqual({
      id: points[2]!.id,
      vector: { "": [0.6, 0.8] },
      payload: { tenant_id: "acme", collection_id: COLLECTION, document_id: DOC, chunk_index: 2, metadata: { team: "billing" } },
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

  it("searches by keywords with the Query API: the query's terms on `text`, the same tenant and metadata filter, top-k, two payload fields", async () => {
    recorder.queryPoints = [{ id: "p2", score: 3.25, payload: { document_id: DOC, chunk_index: 2 } }];
    const hits = await store.keywordSearch(ref, "Nightly invoices", { topK: 4, filter: { team: "billing", year: { $gte: 2020 } } });
    expect(hits).toEqual([{ id: "p2", documentId: DOC, chunkIndex: 2, score: 3.25 }]);
    await store.keywordSearch(ref, "invoices", { topK: 4 });
    expect(sent()).toEqual([`GET /collections/${NAME}`, `POST /collections/${NAME}/points/query`, `POST /collections/${NAME}/points/query`]);
    expect(recorder.calls[1]!.body).toEqual({
      query: querySparseVector("Nightly invoices"),
      using: "text",
      filter: { must: [TENANT, { key: "metadata.team", match: { value: "billing" } }, { key: "metadata.year", range: { gte: 2020 } }] },
      limit: 4,
      with_payload: ["document_id", "chunk_index"],
    });
    expect(querySparseVector("Nightly invoices").values).toEqual([1, 1, 1]);
    expect(recorder.calls[2]!.body).toMatchObject({ filter: { must: [TENANT] } });
  });

  it("answers a keyword query without terms with nothing, without asking Qdrant", async () => {
    expect(await store.keywordSearch(ref, "the of, and!", { topK: 5 })).toEqual([]);
    expect(recorder.calls).toEqual([]);
  });

  it("counts the tenant's points without payload text for keyword readiness, and once there are none, again only after ten minutes", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      expect(await store.keywordReadiness(ref)).toEqual({ missing: 7 });
      recorder.countResult = 0;
      expect(await store.keywordReadiness(ref)).toBe("ready");
      expect(await store.keywordReadiness(ref)).toBe("ready");
      expect(sent()).toEqual([`GET /collections/${NAME}`, `POST /collections/${NAME}/points/count`, `POST /collections/${NAME}/points/count`]);
      expect(recorder.calls[1]!.body).toEqual({ exact: true, filter: WITHOUT_TEXT });
      // A process that had not seen the collection's upgrade may have written points without text meanwhile.
      recorder.countResult = 3;
      vi.setSystemTime(Date.now() + 11 * 60_000);
      expect(await store.keywordReadiness(ref)).toEqual({ missing: 3 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("lists points without text by scrolling the tenant's points whose payload text is empty", async () => {
    recorder.scrollPoints = [{ id: "p1", payload: { document_id: DOC, chunk_index: 3 } }];
    expect(await store.pointsWithoutText(ref, 50)).toEqual([{ id: "p1", documentId: DOC, chunkIndex: 3 }]);
    expect(recorder.calls[1]).toMatchObject({ method: "POST", path: `/collections/${NAME}/points/scroll` });
    expect(recorder.calls[1]!.body).toEqual({ filter: WITHOUT_TEXT, limit: 50, with_payload: ["document_id", "chunk_index"], with_vector: false });
  });

  it("sets texts of the tenant's existing points: their `text` vectors (update_vectors), then their payload text, in one batch", async () => {
    const [a, b, gone] = [pointId(DOC, 0), pointId(DOC, 1), pointId(DOC, 2)];
    recorder.scrollPoints = [{ id: a }, { id: b }];
    await store.setTexts(ref, [
      { id: a, text: "Invoices go out nightly." },
      { id: b, text: "..." },
      { id: gone, text: "A point deleted meanwhile." },
    ]);
    expect(sent()).toEqual([`GET /collections/${NAME}`, `POST /collections/${NAME}/points/scroll`, `POST /collections/${NAME}/points/batch?wait=true`]);
    expect(recorder.calls[1]!.body).toEqual({ filter: { must: [TENANT, { has_id: [a, b, gone] }, { is_empty: { key: "text" } }] }, limit: 3, with_payload: false, with_vector: false });
    expect(recorder.calls[2]!.body).toEqual({
      operations: [
        // Only the `text` vector is named: the dense one stays as it is. "..." has no terms, so no vector.
        { update_vectors: { points: [{ id: a, vector: { text: documentSparseVector("Invoices go out nightly.") } }] } },
        { set_payload: { payload: { text: "Invoices go out nightly." }, points: [a] } },
        { set_payload: { payload: { text: "..." }, points: [b] } },
      ],
    });
  });

  it("sets nothing when none of the points exists, and nothing at all for no texts", async () => {
    await store.setTexts(ref, [{ id: pointId(DOC, 9), text: "gone" }]);
    await store.setTexts(ref, []);
    expect(sent()).toEqual([`GET /collections/${NAME}`, `POST /collections/${NAME}/points/scroll`]);
  });

  it("scans points with their dense vector and text, whichever shape Qdrant answers the vectors in", async () => {
    recorder.scrollPoints = [
      { id: "p1", vector: { "": [0.6, 0.8], text: { indices: [4], values: [1.1] } }, payload: { document_id: DOC, chunk_index: 0, metadata: { team: "billing" }, text: "Invoices." } },
      { id: "p2", vector: [0.8, 0.6], payload: { document_id: DOC, chunk_index: 1, metadata: {} } },
    ];
    const pages = [];
    for await (const page of store.scan(ref)) pages.push(page);
    expect(pages).toEqual([
      [
        { id: "p1", vector: [0.6, 0.8], documentId: DOC, chunkIndex: 0, metadata: { team: "billing" }, text: "Invoices." },
        { id: "p2", vector: [0.8, 0.6], documentId: DOC, chunkIndex: 1, metadata: {}, text: "" },
      ],
    ]);
  });

  it("deletes and counts by a tenant + document filter", async () => {
    await store.deleteDocument(ref, DOC);
    expect(await store.count(ref, DOC)).toBe(7);
    const filter = { must: [{ key: "tenant_id", match: { value: "acme" } }, { key: "document_id", match: { value: DOC } }] };
    expect(recorder.calls[0]).toMatchObject({ method: "POST", path: `/collections/${NAME}/points/delete`, query: "wait=true", body: { filter } });
    expect(recorder.calls[1]).toMatchObject({ method: "POST", path: `/collections/${NAME}/points/count`, body: { exact: true, filter } });
  });

  it("treats a missing collection as empty for search, keyword search, count, documentCounts and texts", async () => {
    recorder.failWith = 404;
    expect(await store.search(ref, [1], { topK: 3 })).toEqual([]);
    expect(await store.keywordSearch(ref, "invoices", { topK: 3 })).toEqual([]);
    expect(await store.count(ref)).toBe(0);
    expect(await store.documentCounts(ref)).toEqual(new Map());
    expect(await store.keywordReadiness(ref)).toBe("ready");
    expect(await store.pointsWithoutText(ref, 10)).toEqual([]);
    await expect(store.setTexts(ref, [{ id: pointId(DOC, 0), text: "x" }])).resolves.toBeUndefined();
  });
});

describe("collections made before keyword search (no `text` vector)", () => {
  const plainPoint = { id: pointId(DOC, 0), vector: [0.6, 0.8], documentId: DOC, chunkIndex: 0, metadata: {}, text: "Invoices go out nightly." };
  beforeEach(() => {
    recorder.exists = true;
    recorder.sparseVectors = null;
  });

  it("on a Qdrant that can add vectors (1.18+), get the sparse `text` vector added by ensureCollection; their points then miss their text", async () => {
    await store.ensureCollection(ref, 2);
    expect(sent().slice(4)).toEqual([`GET /collections/${NAME}`, `PUT /collections/${NAME}/vectors/text?wait=true`]);
    expect(recorder.calls[5]!.body).toEqual({ sparse: { modifier: "idf" } });
    expect(await store.keywordReadiness(ref)).toEqual({ missing: 7 });
    await store.upsert(ref, [plainPoint]);
    expect((recorder.calls.at(-1)!.body as { points: Array<{ vector: unknown }> }).points[0]!.vector).toHaveProperty("text");
  });

  it("on an older Qdrant, are `unsupported`: no keyword search, no points to fill, setTexts refused — and upserts still work, without text", async () => {
    recorder.createVectorStatus = 404;
    await store.ensureCollection(ref, 2);
    expect(sent().slice(4)).toEqual([`GET /collections/${NAME}`, `PUT /collections/${NAME}/vectors/text?wait=true`, `GET /collections/${NAME}`]);
    recorder.calls.length = 0;
    expect(await store.keywordReadiness(ref)).toBe("unsupported");
    expect(await store.pointsWithoutText(ref, 10)).toEqual([]);
    expect(await store.keywordSearch(ref, "invoices", { topK: 3 })).toEqual([]);
    await expect(store.setTexts(ref, [{ id: plainPoint.id, text: "x" }])).rejects.toMatchObject({
      code: "KEYWORD_SEARCH_UNAVAILABLE",
      message: expect.stringMatching(/re-embed/),
    });
    // What the configuration said is kept: none of the above asked Qdrant.
    expect(recorder.calls).toEqual([]);
    await store.upsert(ref, [plainPoint]);
    expect(sent()).toEqual([`PUT /collections/${NAME}/points?wait=true`]);
    // No payload text either: once Qdrant can hold the index, the point is one `pointsWithoutText` reports.
    expect(recorder.calls[0]!.body).toEqual({
      points: [{ id: plainPoint.id, vector: [0.6, 0.8], payload: { tenant_id: "acme", collection_id: COLLECTION, document_id: DOC, chunk_index: 0, metadata: {} } }],
    });
  });

  it("are read again after five minutes, so an upgraded Qdrant adds the vector", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      recorder.createVectorStatus = 404;
      expect(await store.keywordReadiness(ref)).toBe("unsupported");
      recorder.createVectorStatus = 200;
      vi.setSystemTime(Date.now() + 4 * 60_000);
      expect(await store.keywordReadiness(ref)).toBe("unsupported");
      vi.setSystemTime(Date.now() + 2 * 60_000);
      expect(await store.keywordReadiness(ref)).toEqual({ missing: 7 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("finds nothing by keywords in a collection this process took for one with the vector, once Qdrant refuses the query", async () => {
    await store.keywordReadiness(ref);
    recorder.sparseVectors = null;
    recorder.createVectorStatus = 404;
    recorder.answer = (call) => (call.path.endsWith("/points/query") ? { status: 400 } : undefined);
    expect(await store.keywordSearch(ref, "invoices", { topK: 3 })).toEqual([]);
    expect(await store.keywordReadiness(ref)).toBe("unsupported");
    // A refusal for another reason is still an error.
    recorder.sparseVectors = { text: { modifier: "idf" } };
    const fresh = new QdrantVectorStore({ url: recorder.url });
    await expect(fresh.keywordSearch(ref, "invoices", { topK: 3 })).rejects.toMatchObject({ code: "VECTOR_STORE_REJECTED" });
  });

  it("upserts without text into a collection this process took for one with the vector (restored meanwhile from an old snapshot)", async () => {
    recorder.sparseVectors = { text: { modifier: "idf" } };
    await store.keywordReadiness(ref);
    recorder.sparseVectors = null;
    recorder.createVectorStatus = 404;
    recorder.answer = (call) => {
      const points = (call.body as { points?: Array<{ vector: unknown }> } | undefined)?.points;
      return call.method === "PUT" && points?.some((p) => !Array.isArray(p.vector)) ? { status: 400 } : undefined;
    };
    recorder.calls.length = 0;
    await store.upsert(ref, [plainPoint]);
    expect(sent()).toEqual([
      `PUT /collections/${NAME}/points?wait=true`,
      `GET /collections/${NAME}`,
      `PUT /collections/${NAME}/vectors/text?wait=true`,
      `GET /collections/${NAME}`,
      `PUT /collections/${NAME}/points?wait=true`,
    ]);
    expect((recorder.calls[4]!.body as { points: Array<{ vector: unknown }> }).points[0]!.vector).toEqual([0.6, 0.8]);
  });
});

interface FakePoint {
  id: string;
  vector: unknown;
  payload: Record<string, unknown>;
}

/**
 * For the snapshot calls, which the shared recorder does not answer (it parses every body as
 * JSON): records requests like it and keeps just enough state — a snapshot list that a new
 * snapshot joins after some polls, the file's bytes, and points to scroll, read and rewrite.
 */
class SnapshotQdrant {
  readonly calls: Array<{ method: string; path: string; query: string; body: unknown; contentType?: string; apiKey?: string }> = [];
  listed: Array<{ name: string; size: number; creation_time: string; checksum?: string | null }> = [];
  /** What POST /snapshots answers: `null` (accepted), `true`, or the description (finished at once). */
  createAnswer: "null" | "true" | "description" = "null";
  /** How many list calls after the create one the new snapshot appears in (Infinity: never). */
  appearAfter = 2;
  /** The checksum the description reports; undefined: the sha256 of `content`. */
  checksum?: string | null;
  content = Buffer.from("not really a tar file, but bytes all the same");
  points: FakePoint[] = [];
  /** Points the uploaded snapshot holds. */
  uploaded: FakePoint[] = [];
  private pending?: { name: string; polls: number };
  private server?: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const [p, query = ""] = (req.url ?? "").split("?");
      const path = p!;
      const raw = Buffer.concat(chunks).toString();
      const contentType = req.headers["content-type"];
      const body = raw && contentType?.includes("json") ? JSON.parse(raw) : raw || undefined;
      this.calls.push({ method: req.method!, path, query, body, contentType, apiKey: req.headers["api-key"] as string | undefined });
      const send = (result: unknown, status = 200) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ result, status: status === 202 ? "accepted" : "ok", time: 0 }));
      };
      const [, , collection, resource, rest] = path.split("/");
      if (resource === "snapshots") {
        if (req.method === "GET" && rest === undefined) {
          if (this.pending && --this.pending.polls <= 0) {
            this.listed.push(this.describe(this.pending.name));
            this.pending = undefined;
          }
          return send(this.listed);
        }
        if (req.method === "POST" && rest === undefined) {
          const name = `${collection}-${this.calls.length}.snapshot`;
          if (this.createAnswer === "description") {
            this.listed.push(this.describe(name));
            return send(this.describe(name));
          }
          this.pending = { name, polls: this.appearAfter };
          return this.createAnswer === "true" ? send(true) : send(null, 202);
        }
        if (req.method === "POST" && rest === "upload") {
          this.points = structuredClone(this.uploaded);
          return send(true);
        }
        if (req.method === "GET") {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          return res.end(this.content);
        }
        if (req.method === "DELETE") {
          this.listed = this.listed.filter((s) => s.name !== decodeURIComponent(rest!));
          return send(true);
        }
      }
      if (resource === "points") return this.pointsCall(req.method!, path.split("/")[4], body as Record<string, unknown>, send);
      send(true);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    return this;
  }

  private describe(name: string) {
    const checksum = this.checksum === undefined ? createHash("sha256").update(this.content).digest("hex") : this.checksum;
    return { name, size: this.content.length, creation_time: "2025-01-01T00:00:00", checksum };
  }

  private pointsCall(method: string, action: string | undefined, body: Record<string, unknown>, send: (result: unknown) => void) {
    const pick = (p: FakePoint, withPayload: unknown, withVector: unknown) => ({
      id: p.id,
      payload: withPayload === false ? null : Array.isArray(withPayload) ? Object.fromEntries(withPayload.map((k: string) => [k, p.payload[k]])) : p.payload,
      ...(withVector ? { vector: p.vector } : {}),
    });
    if (action === "scroll") {
      const sorted = [...this.points].sort((x, y) => x.id.localeCompare(y.id));
      const from = body.offset === undefined ? 0 : sorted.findIndex((p) => p.id === body.offset);
      const page = sorted.slice(from, from + (body.limit as number));
      const next = sorted[from + (body.limit as number)];
      return send({ points: page.map((p) => pick(p, body.with_payload, body.with_vector)), next_page_offset: next ? next.id : null });
    }
    if (method === "POST" && action === undefined) {
      const ids = new Set(body.ids as string[]);
      return send(this.points.filter((p) => ids.has(p.id)).map((p) => pick(p, body.with_payload, body.with_vector)));
    }
    if (method === "PUT" && action === undefined) {
      for (const p of body.points as FakePoint[]) this.points = [...this.points.filter((q) => q.id !== p.id), p];
    }
    if (action === "delete") {
      const ids = new Set(body.points as string[]);
      this.points = this.points.filter((p) => !ids.has(p.id));
    }
    send({ operation_id: 1, status: "completed" });
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe("snapshot and restore requests", () => {
  let qdrant: SnapshotQdrant;
  let snapshots: QdrantVectorStore;
  let dir: string;
  const OTHER = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a";
  const OTHER_NAME = "quarry_5d4c3b2a1f0e4d9c8b7a6f5e4d3c2b1a_v3";
  const text = (chunkIndex: number) => `Invoices, part ${chunkIndex}.`;
  const payload = (documentId: string, chunkIndex: number) => ({ tenant_id: "acme", collection_id: COLLECTION, document_id: documentId, chunk_index: chunkIndex, metadata: { team: "billing" }, text: text(chunkIndex) });
  /** A point as Qdrant answers it: both vectors by name (the dense one unnamed), the text in the payload. */
  const vectors = (chunkIndex: number) => ({ "": [0.6, 0.8], text: documentSparseVector(text(chunkIndex)) });
  const stored = (documentId: string, chunkIndex: number): FakePoint => ({ id: pointId(documentId, chunkIndex), vector: vectors(chunkIndex), payload: payload(documentId, chunkIndex) });
  const DOC_B = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e";

  beforeAll(async () => {
    qdrant = await new SnapshotQdrant().start();
    snapshots = new QdrantVectorStore({ url: qdrant.url, apiKey: "qdrant-secret", snapshotPollMs: 5, snapshotTimeoutMs: 300 });
  });
  afterAll(() => qdrant.stop());
  beforeEach(() => {
    qdrant.calls.length = 0;
    qdrant.listed = [{ name: "made-by-hand.snapshot", size: 1, creation_time: "2024-01-01T00:00:00", checksum: "00" }];
    qdrant.createAnswer = "null";
    qdrant.appearAfter = 2;
    qdrant.checksum = undefined;
    qdrant.points = [stored(DOC, 0), stored(DOC, 1), stored(DOC_B, 0)];
    dir = mkdtempSync(path.join(tmpdir(), "quarry-qdrant-snapshot-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a snapshot with wait=false, polls until it is listed, downloads it to a fixed file name and deletes it", async () => {
    const taken = await snapshots.snapshot(ref, dir, { documents: new Set([DOC]) });
    expect(taken).toEqual({ points: 2, documents: new Map([[DOC, 2]]) });
    expect(readFileSync(path.join(dir, "collection.snapshot"))).toEqual(qdrant.content);
    const created = qdrant.calls.find((c) => c.method === "POST")!;
    const name = `${NAME}-2.snapshot`;
    expect(qdrant.calls.map((c) => `${c.method} ${c.path}${c.query ? `?${c.query}` : ""}`)).toEqual([
      `GET /collections/${NAME}/snapshots`,
      `POST /collections/${NAME}/snapshots?wait=false`,
      `GET /collections/${NAME}/snapshots`,
      `GET /collections/${NAME}/snapshots`,
      `GET /collections/${NAME}/snapshots/${name}`,
      `DELETE /collections/${NAME}/snapshots/${name}?wait=true`,
      `POST /collections/${NAME}/points/scroll`,
    ]);
    expect(created.query).toBe("wait=false");
    // The snapshot someone made by hand is neither taken nor deleted.
    expect(qdrant.listed.map((s) => s.name)).toEqual(["made-by-hand.snapshot"]);
    expect(qdrant.calls.every((c) => c.apiKey === "qdrant-secret")).toBe(true);
  });

  it("takes the snapshot named in the answer when Qdrant returns its description", async () => {
    qdrant.createAnswer = "description";
    const taken = await snapshots.snapshot(ref, dir);
    expect(taken).toEqual({ points: 3, documents: new Map([[DOC, 2], [DOC_B, 1]]) });
    expect(qdrant.calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual([`/collections/${NAME}/snapshots/${NAME}-2.snapshot`]);
  });

  it("also accepts `result: true` for the create call", async () => {
    qdrant.createAnswer = "true";
    await expect(snapshots.snapshot(ref, dir)).resolves.toMatchObject({ points: 3 });
    expect(qdrant.listed.map((s) => s.name)).toEqual(["made-by-hand.snapshot"]);
  });

  it("refuses a download whose sha256 differs from Qdrant's checksum, and still deletes the snapshot", async () => {
    qdrant.checksum = "ab".repeat(32);
    await expect(snapshots.snapshot(ref, dir)).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE", message: expect.stringMatching(/sha256/) });
    expect(qdrant.calls.at(-1)).toMatchObject({ method: "DELETE", path: `/collections/${NAME}/snapshots/${NAME}-2.snapshot` });
    expect(qdrant.calls.some((c) => c.path.endsWith("/points/scroll"))).toBe(false);
    // The damaged file is not left behind as if it were the snapshot.
    expect(existsSync(path.join(dir, "collection.snapshot"))).toBe(false);
  });

  it("looks once more for a checksum Qdrant has not written yet, and takes the file without one after that", async () => {
    qdrant.checksum = null;
    await expect(snapshots.snapshot(ref, dir)).resolves.toMatchObject({ points: 3 });
    const polls = qdrant.calls.filter((c) => c.method === "GET" && c.path === `/collections/${NAME}/snapshots`);
    expect(polls).toHaveLength(4);
  });

  it("gives up after the snapshot timeout", async () => {
    qdrant.appearAfter = Infinity;
    await expect(snapshots.snapshot(ref, dir)).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE", message: expect.stringMatching(/did not finish/) });
  });

  it("uploads the file with priority=snapshot into the target generation's collection", async () => {
    writeFileSync(path.join(dir, "collection.snapshot"), qdrant.content);
    qdrant.uploaded = [stored(DOC, 0)];
    await snapshots.restore({ tenantId: "acme", collectionId: OTHER, version: 3 }, dir);
    const [upload, fix] = qdrant.calls;
    expect(upload).toMatchObject({ method: "POST", path: `/collections/${OTHER_NAME}/snapshots/upload`, query: "priority=snapshot&wait=true", apiKey: "qdrant-secret" });
    expect(upload!.contentType).toMatch(/^multipart\/form-data/);
    expect(upload!.body).toContain('name="snapshot"; filename="collection.snapshot"');
    expect(upload!.body).toContain(qdrant.content.toString());
    // The points came from another collection: their payload is made to name this one.
    expect(fix).toMatchObject({
      method: "POST",
      path: `/collections/${OTHER_NAME}/points/payload`,
      query: "wait=true",
      body: { payload: { collection_id: OTHER }, filter: { must_not: [{ key: "collection_id", match: { value: OTHER } }] } },
    });
    expect(qdrant.calls).toHaveLength(2);
  });

  it("gives restored points new document ids and point ids, keeping their sparse vectors and text, and removes the documents not renamed", async () => {
    writeFileSync(path.join(dir, "collection.snapshot"), qdrant.content);
    qdrant.uploaded = [stored(DOC, 0), stored(DOC, 1), stored(DOC_B, 0)];
    const NEW_DOC = "0e1d2c3b-4a59-4687-9a5b-4c3d2e1f0a9b";
    await snapshots.restore({ tenantId: "acme", collectionId: OTHER, version: 3 }, dir, { documentIds: new Map([[DOC, NEW_DOC]]) });
    expect(qdrant.points.sort((x, y) => x.payload.chunk_index as number - (y.payload.chunk_index as number))).toEqual([0, 1].map((i) => ({
      id: pointId(NEW_DOC, i),
      vector: vectors(i),
      payload: { tenant_id: "acme", collection_id: OTHER, document_id: NEW_DOC, chunk_index: i, metadata: { team: "billing" }, text: text(i) },
    })));
    const calls = qdrant.calls.map((c) => `${c.method} ${c.path}`);
    expect(calls).toEqual([
      `POST /collections/${OTHER_NAME}/snapshots/upload`,
      `POST /collections/${OTHER_NAME}/points/scroll`,
      `POST /collections/${OTHER_NAME}/points`,
      `PUT /collections/${OTHER_NAME}/points`,
      `POST /collections/${OTHER_NAME}/points/delete`,
    ]);
    expect(qdrant.calls[1]!.body).toMatchObject({ with_payload: false, with_vector: false, filter: { must: [{ key: "tenant_id", match: { value: "acme" } }] } });
    expect(qdrant.calls[2]!.body).toMatchObject({ with_payload: true, with_vector: true });
    expect(new Set((qdrant.calls[4]!.body as { points: string[] }).points)).toEqual(new Set(qdrant.uploaded.map((p) => p.id)));
  });

  it("rewrites in batches of 256", async () => {
    writeFileSync(path.join(dir, "collection.snapshot"), qdrant.content);
    qdrant.uploaded = Array.from({ length: 300 }, (_, i) => stored(DOC, i));
    await snapshots.restore(ref, dir, { documentIds: new Map([[DOC, DOC_B]]) });
    const upserts = qdrant.calls.filter((c) => c.method === "PUT").map((c) => (c.body as { points: unknown[] }).points.length);
    expect(upserts).toEqual([256, 44]);
    expect(qdrant.points).toHaveLength(300);
    expect(qdrant.points.every((p) => p.payload.document_id === DOC_B && p.id === pointId(DOC_B, p.payload.chunk_index as number))).toBe(true);
  });

  it("refuses a directory without the snapshot file", async () => {
    await expect(snapshots.restore(ref, dir)).rejects.toThrow(/collection\.snapshot/);
    expect(qdrant.calls).toEqual([]);
  });

  it("counts points per document by scrolling document ids only, page by page", async () => {
    qdrant.points = [...Array.from({ length: 1500 }, (_, i) => stored(DOC, i)), ...Array.from({ length: 700 }, (_, i) => stored(DOC_B, i))];
    expect(await snapshots.documentCounts(ref)).toEqual(new Map([[DOC, 1500], [DOC_B, 700]]));
    const scrolls = qdrant.calls.map((c) => c.body as Record<string, unknown>);
    expect(qdrant.calls.map((c) => `${c.method} ${c.path}`)).toEqual(Array(3).fill(`POST /collections/${NAME}/points/scroll`));
    expect(scrolls[0]).toEqual({ filter: { must: [{ key: "tenant_id", match: { value: "acme" } }] }, limit: 1000, with_payload: ["document_id"], with_vector: false });
    expect(scrolls.map((s) => s.offset)).toEqual([undefined, expect.any(String), expect.any(String)]);
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
    await expect(dead.upsert(ref, [{ id: "x", vector: [1], documentId: DOC, chunkIndex: 0, metadata: {}, text: "" }])).rejects.toMatchObject({ retryable: true });
  });

  it("maps failures of the keyword calls the same way, once the collection's configuration is known", async () => {
    await store.ensureCollection(ref, 2);
    const calls = {
      keywordSearch: () => store.keywordSearch(ref, "invoices", { topK: 3 }),
      keywordReadiness: () => store.keywordReadiness(ref),
      pointsWithoutText: () => store.pointsWithoutText(ref, 10),
      setTexts: () => store.setTexts(ref, [{ id: pointId(DOC, 0), text: "Invoices." }]),
    };
    for (const [what, call] of Object.entries(calls)) {
      recorder.failWith = 503;
      await expect(call(), what).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE", httpStatus: 503, retryable: true, retryAfter: 5 });
      recorder.failWith = 400;
      await expect(call(), what).rejects.toMatchObject({ code: "VECTOR_STORE_REJECTED", httpStatus: 502, retryable: false });
    }
    // setTexts' write itself, after the points were read.
    recorder.failWith = undefined;
    recorder.scrollPoints = [{ id: pointId(DOC, 0) }];
    recorder.answer = (call) => (call.path.endsWith("/points/batch") ? { status: 503 } : undefined);
    await expect(calls.setTexts()).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE", retryable: true });
  });

  it("maps a failure to read or extend an old collection's configuration: ensureCollection is retried", async () => {
    recorder.exists = true;
    recorder.sparseVectors = null;
    recorder.answer = (call) => (call.path.endsWith("/vectors/text") ? { status: 502 } : undefined);
    await expect(store.ensureCollection(ref, 2)).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE", retryable: true });
    recorder.answer = (call) => (call.method === "GET" && call.path === `/collections/${NAME}` ? { status: 503 } : undefined);
    await expect(store.keywordReadiness(ref)).rejects.toMatchObject({ code: "VECTOR_STORE_UNAVAILABLE", retryable: true });
    // A failed read is not remembered.
    recorder.answer = undefined;
    expect(await store.keywordReadiness(ref)).toEqual({ missing: 7 });
  });

  it("maps other 4xx to a permanent VECTOR_STORE_REJECTED", async () => {
    recorder.failWith = 400;
    await expect(store.upsert(ref, [{ id: "x", vector: [1], documentId: DOC, chunkIndex: 0, metadata: {}, text: "" }])).rejects.toMatchObject({
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
