import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { optimizeVectors } from "../../shared/use-cases/optimize-vectors.ts";
import { searchCollection } from "../../shared/use-cases/search.ts";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

/**
 * A Jina/Cohere-compatible rerank endpoint: relevance = how often the query's words occur in the
 * document, or a failure when told to fail.
 */
class RerankStub {
  requests: Array<{ headers: IncomingHttpHeaders; body: { model: string; query: string; documents: string[]; top_n: number } }> = [];
  behaviour: "ok" | "500" | "slow" | "garbage" | "bad-index" | "short" = "ok";
  private server?: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c.toString()));
      req.on("end", () => {
        const body = JSON.parse(raw);
        this.requests.push({ headers: req.headers, body });
        if (this.behaviour === "500") return void res.writeHead(500).end("boom");
        if (this.behaviour === "slow") return void setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end('{"results":[]}'), 2_000);
        if (this.behaviour === "garbage") return void res.writeHead(200, { "content-type": "application/json" }).end('{"data":"nope"}');
        const words = String(body.query).toLowerCase().match(/\w+/g) ?? [];
        const results = (body.documents as string[])
          .map((d, index) => ({ index, relevance_score: words.reduce((n, w) => n + (d.toLowerCase().split(w).length - 1), 0) / 10 }))
          .sort((a, b) => b.relevance_score - a.relevance_score)
          .slice(0, body.top_n);
        if (this.behaviour === "bad-index") results[0]!.index = 999;
        if (this.behaviour === "short") results.length = 1;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ model: body.model, results, usage: { total_tokens: 1 } }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/v1/rerank`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const DOCS = {
  invoices: "Invoices are due within thirty days. Late invoices accrue interest. Invoice disputes go to the billing team.",
  shipping: "Parcels to Norway take five working days. Parcels to Japan take ten working days.",
  pets: "Our office dog Biscuit greets visitors; cats are not allowed in the office.",
  refunds: "Refunds reach the original payment method within a week. A refund needs the order number.",
};

let stack: TestStack;
let client: ApiClient;
let rerank: RerankStub;
let collection: string;
const ids: Record<keyof typeof DOCS, string> = {} as never;

beforeAll(async () => {
  rerank = await new RerankStub().start();
  stack = await startTestStack({
    workers: true,
    env: { RERANK_URL: rerank.url, RERANK_MODEL: "stub-rerank-v1", RERANK_API_KEY: "rerank-secret-key", RERANK_TIMEOUT_MS: "500", VECTOR_MAINTENANCE_AFTER_WRITES_MS: "1000" },
  });
  client = apiClient(stack.url, TEST_KEYS.acme);
  collection = (await client.post("/v1/collections", { name: "retrieval" })).body.id;
  for (const [key, text] of Object.entries(DOCS)) {
    const res = await client.post(`/v1/collections/${collection}/documents`, { text, title: key, metadata: { topic: key } });
    ids[key as keyof typeof DOCS] = res.body.document.id;
    await waitFor(async () => ((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined), 30_000);
  }
  // The maintenance those writes queued has run: BM25 scores change when the keyword index takes
  // in rows it searched without it, and the tests compare answers.
  await maintained(collection);
}, 60_000);

async function maintained(collectionId: string): Promise<void> {
  const queue = stack.deps.producer.queueFor("optimize_vectors");
  await waitFor(async () => {
    const jobs = (await queue.getJobs(["delayed", "waiting", "active", "completed"])).filter((j) => j.data.collection_id === collectionId);
    return jobs.length > 0 && (await Promise.all(jobs.map((j) => j.getState()))).every((s) => s === "completed") ? true : undefined;
  }, 20_000);
}
afterAll(async () => {
  await stack?.stop();
  await rerank?.stop();
});
beforeEach(() => {
  rerank.requests.length = 0;
  rerank.behaviour = "ok";
});

const search = (body: Record<string, unknown>) => client.post(`/v1/collections/${collection}/search`, { rerank: false, ...body });

describe("search modes", () => {
  it("keyword search finds the chunks that contain the words, honours filters, and finds nothing for absent words", async () => {
    const res = await search({ query: "Biscuit", mode: "keyword" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ mode: "keyword", reranked: false });
    expect(res.body.data.map((h: { document_id: string }) => h.document_id)).toEqual([ids.pets]);
    expect(res.body.data[0].scores).toEqual({ keyword: res.body.data[0].score });
    expect(res.body.data[0].text).toContain("Biscuit");
    expect((await search({ query: "invoice disputes", mode: "keyword", filter: { topic: "pets" } })).body.data).toEqual([]);
    expect((await search({ query: "invoice disputes", mode: "keyword", filter: { topic: "invoices" } })).body.data[0].document_id).toBe(ids.invoices);
    expect((await search({ query: "xylophone zeppelin", mode: "keyword" })).body.data).toEqual([]);
  });

  it("hybrid search fuses both lists by reciprocal rank, and follows the weights", async () => {
    const res = await search({ query: "invoice disputes billing", mode: "hybrid", top_k: 4 });
    expect(res.body.mode).toBe("hybrid");
    const top = res.body.data[0];
    expect(top.document_id).toBe(ids.invoices);
    expect(top.scores.vector).toBeGreaterThan(0);
    expect(top.scores.keyword).toBeGreaterThan(0);
    // First in both lists, with the default weights of 1: 1/61 + 1/61.
    expect(top.score).toBeCloseTo(2 / 61, 9);
    const scores = res.body.data.map((h: { score: number }) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // With the keyword list silenced, only what the vector search found remains, in its order.
    const vectorOnly = await search({ query: "invoice disputes billing", mode: "hybrid", weights: { keyword: 0 }, top_k: 4 });
    const byVector = await search({ query: "invoice disputes billing", mode: "vector", top_k: 4 });
    expect(vectorOnly.body.data.map((h: { document_id: string }) => h.document_id)).toEqual(byVector.body.data.map((h: { document_id: string }) => h.document_id));
  });
});

describe("reranking", () => {
  it("reranks by default when a reranker is configured, sending it the candidates' text", async () => {
    const res = await client.post(`/v1/collections/${collection}/search`, { query: "refund refund order", top_k: 2, mode: "hybrid" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ reranked: true });
    expect(res.body).not.toHaveProperty("warnings");
    expect(res.body.data).toHaveLength(2);
    expect(res.body.data[0].document_id).toBe(ids.refunds);
    expect(res.body.data[0].score).toBe(res.body.data[0].scores.rerank);
    expect(rerank.requests).toHaveLength(1);
    const sent = rerank.requests[0]!;
    expect(sent.headers.authorization).toBe("Bearer rerank-secret-key");
    expect(sent.body).toMatchObject({ model: "stub-rerank-v1", query: "refund refund order", top_n: 2 });
    expect(sent.body.documents).toContain(DOCS.refunds);
    expect((await search({ query: "refund", top_k: 2 })).body.reranked).toBe(false);
    expect(rerank.requests).toHaveLength(1);
  });

  it.each(["500", "slow", "garbage", "bad-index", "short"] as const)("answers in the unreranked order with a warning when the reranker fails (%s)", async (behaviour) => {
    const plain = await search({ query: "parcels Japan", top_k: 3, mode: "hybrid" });
    rerank.behaviour = behaviour;
    const res = await client.post(`/v1/collections/${collection}/search`, { query: "parcels Japan", top_k: 3, mode: "hybrid", rerank: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ reranked: false, warnings: [{ code: "RERANK_FAILED", message: expect.stringContaining("reranker") }] });
    expect(res.body.data).toEqual(plain.body.data);
  });

  it("reranks the candidates of every collection of a chat together, and chat takes search_mode", async () => {
    const res = await client.post("/v1/chat", { collection_ids: [collection], message: "How long do parcels to Japan take?", search_mode: "keyword", top_k: 2 });
    expect(res.status).toBe(200);
    expect(res.body.sources[0]).toMatchObject({ document_id: ids.shipping, n: 1 });
    expect(res.body.sources[0].scores.rerank).toBe(res.body.sources[0].score);
    expect(rerank.requests).toHaveLength(1);
    rerank.behaviour = "500";
    const degraded = await client.post("/v1/chat", { collection_ids: [collection], message: "How long do parcels to Japan take?", top_k: 2 });
    expect(degraded.status).toBe(200);
    expect(degraded.body.warnings).toEqual([expect.objectContaining({ code: "RERANK_FAILED" })]);
    expect(degraded.body.sources[0].document_id).toBe(ids.shipping);
    expect((await client.post("/v1/chat", { collection_ids: [collection], message: "x", search_mode: "fuzzy" })).status).toBe(400);
  });
});

describe("chat over several collections", () => {
  it("merges keyword results of different collections by rank, not by their BM25 scores (each collection has its own statistics)", async () => {
    const ingest = async (name: string, texts: string[]) => {
      const id = (await client.post("/v1/collections", { name })).body.id as string;
      for (const text of texts) {
        const res = await client.post(`/v1/collections/${id}/documents`, { text });
        await waitFor(async () => ((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined), 30_000);
      }
      return id;
    };
    // Loud: the word many times in short chunks, and rare in its collection (high IDF); quiet: once
    // in longer ones, in every document (low IDF). By score, loud's chunks would all come first.
    const loud = await ingest("loud", [
      "okapi okapi okapi okapi",
      "okapi okapi okapi grass",
      "okapi okapi forest",
      "Giraffes browse on acacia leaves.",
      "Zebras graze in large herds.",
      "Elephants dig for water in dry riverbeds.",
    ]);
    const quiet = await ingest("quiet", [
      "A single okapi was seen near the river bank after the long and heavy rains of the season.",
      "Travellers reported one okapi among many other animals crossing the wide open plains at dawn.",
    ]);
    const res = await client.post("/v1/chat", { collection_ids: [loud, quiet], message: "okapi", search_mode: "keyword", rerank: false, top_k: 4 });
    expect(res.status).toBe(200);
    const from = (res.body.sources as Array<{ collection_id: string; scores: { keyword: number } }>).map((s) => s.collection_id);
    expect(from).toEqual([loud, quiet, loud, quiet]);
    // The scores themselves would have put every loud chunk first.
    const scores = res.body.sources.map((s: { scores: { keyword: number } }) => s.scores.keyword);
    expect(scores[2]).toBeGreaterThan(scores[1]);
  });
});

describe("maintenance of the keyword index", () => {
  it("fills in the text of points stored before keyword search existed, and says the index is incomplete until then", async () => {
    const c = (await client.post("/v1/collections", { name: "old points" })).body.id;
    const res = await client.post(`/v1/collections/${c}/documents`, { text: "Quokkas are small marsupials found on Rottnest Island." });
    await waitFor(async () => ((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined), 30_000);
    // The maintenance its write queued has run (it would fill the text in itself).
    await maintained(c);
    // As an older Quarry left them: points without text. Another process's store, which has not
    // seen the collection yet, then answers for it.
    const dir = path.resolve(stack.deps.config.DATA_DIR, "vectors");
    const db = await lancedb.connect(dir);
    await (await db.openTable(`points_${c.replaceAll("-", "")}`)).update({ where: "true", valuesSql: { text: "CAST(NULL AS STRING)" } });
    db.close();
    const other = new EmbeddedVectorStore(dir);
    const deps = { ...stack.deps, vectorStore: other };
    try {
      const before = await searchCollection(deps, "acme", c, { query: "quokkas", topK: 5, mode: "keyword", rerank: false });
      expect(before.data).toEqual([]);
      expect(before.warnings).toEqual([{ code: "KEYWORD_INDEX_INCOMPLETE", message: expect.stringContaining("1 chunks") }]);
      // Hybrid still answers from the vector list; with no mode named, the search is by vector meanwhile.
      expect((await searchCollection(deps, "acme", c, { query: "quokkas", topK: 5, mode: "hybrid", rerank: false })).data).toHaveLength(1);
      const defaulted = await searchCollection(deps, "acme", c, { query: "quokkas", topK: 5, rerank: false });
      expect(defaulted).toMatchObject({ mode: "vector", warnings: [{ code: "KEYWORD_INDEX_INCOMPLETE", message: expect.stringMatching(/^searched by vector only/) }] });
      expect(defaulted.data).toHaveLength(1);

      expect(await optimizeVectors(deps, { collectionId: c })).toEqual({ collections: 1, texts_filled: 1, skipped: 0, failed: 0 });
      const after = await searchCollection(deps, "acme", c, { query: "quokkas", topK: 5, mode: "keyword", rerank: false });
      expect(after.warnings).toEqual([]);
      expect(after.data[0]!.text).toContain("Quokkas");
      expect(await optimizeVectors(deps, { collectionId: c })).toEqual({ collections: 1, texts_filled: 0, skipped: 0, failed: 0 });
    } finally {
      await other.close();
    }
  });

  it("runs one maintenance of a generation at a time: a second run at once skips it, and neither fails", async () => {
    const [a, b] = await Promise.all([optimizeVectors(stack.deps, { collectionId: collection }), optimizeVectors(stack.deps, { collectionId: collection })]);
    expect([a.skipped, b.skipped].sort()).toEqual([0, 1]);
    expect(a.failed + b.failed).toBe(0);
    expect((await optimizeVectors(stack.deps, { collectionId: collection })).skipped).toBe(0); // the lock is gone
  });

  it("queues a collection's maintenance shortly after it is written to, once per window", async () => {
    const queue = stack.deps.producer.queueFor("optimize_vectors");
    const mine = async () => (await queue.getJobs(["delayed", "waiting", "active", "completed"])).filter((j) => j.name === "optimize_vectors" && j.data.collection_id === collection);
    const before = (await mine()).length;
    const res = await client.post(`/v1/collections/${collection}/documents`, { text: "A late addition about walruses." });
    await waitFor(async () => ((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined), 30_000);
    const jobs = await waitFor(async () => {
      const all = await mine();
      return all.length > before && (await Promise.all(all.map((j) => j.getState()))).every((s) => s === "completed") ? all : undefined;
    }, 20_000);
    expect(jobs.every((j) => /^optimize-[0-9a-f-]{36}-v0-\d+$/.test(j.id!))).toBe(true);
    expect(jobs.at(-1)!.data).toEqual({ collection_id: collection, vector_version: 0, semantic: false });
    expect((await search({ query: "walruses", mode: "keyword" })).body.data[0].text).toContain("walruses");
  });
});
