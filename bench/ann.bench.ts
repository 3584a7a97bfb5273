/**
 * ANN recall and latency at scale on the embedded store (issue 12). Clustered, semantic-like unit
 * vectors (bench/semantic-vectors.ts) are streamed into a collection with an OpenAI-compatible
 * embedding spec in batches of 10,000 through `EmbeddedVectorStore.upsert` (short chunk texts,
 * metadata `{group: document % 10}`), with their Postgres rows. The exact top 10 of every
 * held-out query is computed in JavaScript while the vectors stream by, over all chunks and over
 * group 3's. Then: the scheduled maintenance without an ANN index and exact search; the store's
 * own `optimize(ref, {semantic: true})` builds the ANN index; recall@10 and latency of
 * `store.search`, unfiltered and with `{group: 3}` (10 % of the chunks); and the same through
 * `POST /v1/collections/:id/search` on a spawned api, whose query embedding comes from the
 * OpenAI stub answering "q<N>" with held-out query N.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../shared/config/env.ts";
import { createDeps } from "../shared/deps.ts";
import { createLogger } from "../shared/logging/logger.ts";
import { createCollection } from "../shared/use-cases/collections.ts";
import { pointId } from "../shared/use-cases/point-id.ts";
import type { CollectionRef, VectorStore } from "../shared/vector-store/vector-store.ts";
import { apiClient } from "../test/helpers/http.ts";
import { OpenAIStub } from "../test/helpers/openai-stub.ts";
import { spawnQuarry } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS } from "../test/helpers/test-env.ts";
import { ExactTopK, SemanticVectors } from "./semantic-vectors.ts";
import { percentiles, timed } from "./stats.ts";

const CHUNKS = Number(process.env.BENCH_ANN_CHUNKS ?? 100_000);
const DIMS = Number(process.env.BENCH_ANN_DIMS ?? 1536);
const QUERIES = Number(process.env.BENCH_ANN_QUERIES ?? 200);
/** Exact (unindexed) searches timed before the index is built: seconds each at 1536 dimensions, so 50 at most, none above 200k. */
const EXACT_QUERIES = Number(process.env.BENCH_ANN_EXACT_QUERIES ?? (CHUNKS <= 200_000 ? Math.min(QUERIES, 50) : 0));
const HTTP = process.env.BENCH_ANN_HTTP !== "false";
const BATCH = 10_000;
const PER_DOC = 100;
const K = 10;
const GROUP = 3;
const FILTER = { group: GROUP };
const GENERATOR =
  "64 topics × 32 clusters in a random 64-dimension subspace; shares of the squared norm: common direction 0.15, topic 0.20, cluster 0.25, within-cluster 0.25, isotropic noise 0.15; 70 % of a document's chunks in its topic";
/** A run of the store's maintenance this long after the last one cleans up the versions it keeps (60 s). */
const CLEANUP_AFTER_MS = 61_000;

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const sec = (ms: number) => Math.round(ms / 100) / 10;
const groupOf = (chunk: number) => Math.floor(chunk / PER_DOC) % 10;

/** The largest RSS of this process in each phase, sampled every 100 ms (and at each phase's ends). */
class RssSampler {
  private peak = 0;
  private readonly timer = setInterval(() => this.sample(), 100);
  readonly phases: Record<string, number> = {};
  sample() {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.peak = process.memoryUsage.rss();
    try {
      return await fn();
    } finally {
      this.sample();
      this.phases[name] = Math.max(this.phases[name] ?? 0, mb(this.peak));
    }
  }
  stop() {
    clearInterval(this.timer);
  }
}

/** Kilobytes under a directory, as `du` counts them (what it takes on disk). */
function diskMb(dir: string): number {
  return Math.round(Number(execFileSync("du", ["-sk", dir], { encoding: "utf8" }).split("\t")[0]) / 1024);
}

function recall(found: number[][], exact: number[][]): number {
  const total = found.reduce((sum, ids, q) => sum + ids.filter((id) => exact[q]!.includes(id)).length / Math.max(1, exact[q]!.length), 0);
  return Math.round((total / found.length) * 1000) / 1000;
}

export async function annBench() {
  if (CHUNKS % BATCH !== 0 && CHUNKS > BATCH) throw new Error(`BENCH_ANN_CHUNKS must be a multiple of ${BATCH}`);
  if (CHUNKS % PER_DOC !== 0 || DIMS % 4 !== 0) throw new Error(`BENCH_ANN_CHUNKS must be a multiple of ${PER_DOC}, BENCH_ANN_DIMS of 4`);
  const generator = new SemanticVectors(DIMS);
  const queries = new Float32Array(QUERIES * DIMS);
  const nextQuery = generator.stream(2, 1);
  for (let q = 0; q < QUERIES; q++) nextQuery(queries, q * DIMS);
  const queryVector = (q: number) => Array.from(queries.subarray(q * DIMS, (q + 1) * DIMS));

  const stub = await new OpenAIStub().start();
  stub.embeddingFor = (text, dimensions) => {
    const q = /^q(\d+)$/.exec(text)?.[1];
    return q !== undefined && dimensions === DIMS && Number(q) < QUERIES ? queryVector(Number(q)) : undefined;
  };
  const env = createTestEnv({ LOG_LEVEL: "warn", OPENAI_API_KEY: "sk-bench", OPENAI_BASE_URL: stub.url, VECTOR_INDEX_MIN_CHUNKS: "1000" });
  const config = loadConfig(env.env);
  const deps = await createDeps(config, createLogger(config, "bench"));
  const rss = new RssSampler();
  const store: VectorStore = deps.vectorStore;
  try {
    if (store.kind !== "embedded") throw new Error("the ANN benchmark is for the embedded store");
    const collection = await createCollection(deps, "acme", { name: "ann", embedding: { provider: "openai", model: "text-embedding-3-small", dimensions: DIMS } });
    const ref: CollectionRef = { tenantId: "acme", collectionId: collection.id, version: 0 };
    const tableDir = path.join(env.dataDir, "vectors", `points_${collection.id.replaceAll("-", "")}.lance`);
    const documentIds: string[] = Array.from({ length: CHUNKS / PER_DOC }, () => randomUUID());
    const documentIndex = new Map<string, number>(documentIds.map((id, i) => [id, i]));
    const chunkOf = (documentId: string, chunkIndex: number) => documentIndex.get(documentId)! * PER_DOC + chunkIndex;

    // Load: generate, offer to the exact top 10, write to Postgres and the store, batch by batch.
    const exact = new ExactTopK(queries, DIMS, K);
    const exactFiltered = new ExactTopK(queries, DIMS, K);
    const spent = { generate: 0, exact: 0, postgres: 0, upsert_wait: 0 };
    // One upsert in flight while the next batch is generated: LanceDB merges on its own threads.
    let upserting: Promise<void> = Promise.resolve();
    const next = generator.stream(1, PER_DOC);
    const vectors = new Float32Array(Math.min(BATCH, CHUNKS) * DIMS);
    const started = performance.now();
    const [, loadMs] = await timed(() =>
      rss.phase("load", async () => {
        for (let start = 0; start < CHUNKS; start += BATCH) {
          const size = Math.min(BATCH, CHUNKS - start);
          let t = performance.now();
          for (let i = 0; i < size; i++) next(vectors, i * DIMS);
          spent.generate += performance.now() - t;
          t = performance.now();
          exact.add(vectors, start);
          exactFiltered.add(vectors, start, (id) => groupOf(id) === GROUP);
          spent.exact += performance.now() - t;
          t = performance.now();
          const docs = documentIds.slice(start / PER_DOC, (start + size) / PER_DOC);
          await deps.db.query(
            `INSERT INTO documents (id, tenant_id, collection_id, title, status, mime_type, size_bytes, sha256, chunk_count, metadata)
             SELECT id, 'acme', $2, 'doc ' || (n + $3 - 1), 'ready', 'text/plain', 0, replace(id::text, '-', ''), $4, jsonb_build_object('group', (n + $3 - 1) % 10)
             FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)`,
            [docs, collection.id, start / PER_DOC, PER_DOC],
          );
          await deps.db.query(
            `INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count)
             SELECT id, c, 'acme', $2, 'chunk ' || c || ' of document ' || (n + $3 - 1), 6
             FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n) CROSS JOIN generate_series(0, $4 - 1) AS c`,
            [docs, collection.id, start / PER_DOC, PER_DOC],
          );
          spent.postgres += performance.now() - t;
          t = performance.now();
          const points = Array.from({ length: size }, (_, i) => {
            const chunk = start + i;
            const documentId = documentIds[Math.floor(chunk / PER_DOC)]!;
            return {
              id: pointId(documentId, chunk % PER_DOC),
              vector: Array.from(vectors.subarray(i * DIMS, (i + 1) * DIMS)),
              documentId,
              chunkIndex: chunk % PER_DOC,
              metadata: { group: groupOf(chunk) },
              text: `chunk ${chunk % PER_DOC} of document ${Math.floor(chunk / PER_DOC)}`,
            };
          });
          await upserting;
          spent.upsert_wait += performance.now() - t;
          upserting = store.upsert(ref, points);
          upserting.catch(() => undefined); // awaited before the next upsert and after the last
          if ((start / BATCH) % 10 === 9) process.stderr.write(`ann: loaded ${start + size} of ${CHUNKS} (${sec(performance.now() - started)} s, ${JSON.stringify(spent)})\n`);
        }
        await upserting;
      }),
    );
    const exactTop = exact.top();
    const exactTopFiltered = exactFiltered.top();

    // Exact search, after the maintenance every collection gets (compaction, scalar and keyword indexes).
    const [, maintenanceMs] = await timed(() => rss.phase("maintenance", () => store.optimize(ref, { semantic: false })));
    const diskBeforeIndexMb = diskMb(tableDir);
    const search = async (n: number, filtered: boolean) => {
      const ms: number[] = [];
      const found: number[][] = [];
      for (let q = 0; q < n; q++) {
        const vector = queryVector(q);
        const [hits, took] = await timed(() => store.search(ref, vector, { topK: K, ...(filtered ? { filter: FILTER } : {}) }));
        ms.push(took);
        found.push(hits.map((h) => chunkOf(h.documentId, h.chunkIndex)));
      }
      return { ms: percentiles(ms), recall: recall(found, (filtered ? exactTopFiltered : exactTop).slice(0, n)) };
    };
    const exactSearch = EXACT_QUERIES > 0 ? await rss.phase("exact_search", async () => ({ plain: await search(EXACT_QUERIES, false), filtered: await search(EXACT_QUERIES, true) })) : undefined;

    // The ANN index, built by the store's own maintenance.
    const [, buildMs] = await timed(() => rss.phase("build", () => store.optimize(ref, { semantic: true })));
    const builtAt = Date.now();
    const diskAfterBuildMb = diskMb(tableDir);
    const indexMb = diskMb(path.join(tableDir, "_indices"));
    const annSearch = await rss.phase("search", async () => {
      const [, coldMs] = await timed(() => store.search(ref, queryVector(0), { topK: K }));
      for (let q = 1; q < Math.min(QUERIES, 10); q++) await store.search(ref, queryVector(q), { topK: K, ...(q % 2 ? { filter: FILTER } : {}) });
      return { cold_first_query_ms: Math.round(coldMs), plain: await search(QUERIES, false), filtered: await search(QUERIES, true) };
    });

    const http = HTTP ? await httpSearch(env.env, collection.id, chunkOf, exactTop, exactTopFiltered) : undefined;

    // Steady-state disk: the next maintenance run drops the versions the first one kept for a minute.
    await new Promise((r) => setTimeout(r, Math.max(0, builtAt + CLEANUP_AFTER_MS - Date.now())));
    await store.optimize(ref, { semantic: true });
    const diskSteadyMb = diskMb(tableDir);

    return {
      chunks: CHUNKS,
      dimensions: DIMS,
      documents: CHUNKS / PER_DOC,
      queries: QUERIES,
      top_k: K,
      filter: JSON.stringify(FILTER),
      generator: { seed: 1, query_seed: 2, model: GENERATOR, cosine: { exact_top1: exact.stats().top1, exact_top10: exact.stats().topK, all_pairs: exact.stats().all } },
      ground_truth: "exact top 10 per query computed in JavaScript over every vector as it was generated (all chunks, and group 3's)",
      load_seconds: { total: sec(loadMs), generate: sec(spent.generate), exact_top10: sec(spent.exact), postgres: sec(spent.postgres), waiting_for_upserts: sec(spent.upsert_wait) },
      maintenance_seconds: sec(maintenanceMs),
      ann_build_seconds: sec(buildMs),
      index: await describeIndex(tableDir),
      disk_mb: { before_index: diskBeforeIndexMb, after_build: diskAfterBuildMb, index: indexMb, steady: diskSteadyMb },
      ...(exactSearch
        ? { exact_search: { queries: EXACT_QUERIES, recall_at_10: exactSearch.plain.recall, recall_at_10_filtered: exactSearch.filtered.recall, ms: exactSearch.plain.ms, filtered_ms: exactSearch.filtered.ms } }
        : {}),
      ann_search: {
        cold_first_query_ms: annSearch.cold_first_query_ms,
        recall_at_10: annSearch.plain.recall,
        recall_at_10_filtered: annSearch.filtered.recall,
        ms: annSearch.plain.ms,
        filtered_ms: annSearch.filtered.ms,
      },
      ...(http ? { http_search: http.result } : {}),
      peak_rss_mb: { bench_process: mb(process.resourceUsage().maxRSS * 1024), bench_process_by_phase_sampled: rss.phases, ...(http ? { api_process: http.apiPeakMb } : {}) },
      load_average_1m: Math.round(os.loadavg()[0]! * 10) / 10,
    };
  } finally {
    rss.stop();
    await deps.close();
    await env.cleanup();
    await stub.stop();
  }
}

/** The ANN index as LanceDB describes it, read through a connection of its own. */
async function describeIndex(tableDir: string): Promise<Record<string, unknown>> {
  const lancedb = await import("@lancedb/lancedb");
  const db = await lancedb.connect(path.dirname(tableDir));
  try {
    const table = await db.openTable(path.basename(tableDir, ".lance"));
    const index = (await table.listIndices()).find((i) => i.columns.join(",") === "vector");
    if (!index) return { none: true };
    const stats = await table.indexStats(index.name);
    table.close();
    return { name: index.name, type: index.indexType, ...stats };
  } finally {
    db.close();
  }
}

/** `POST /v1/collections/:id/search` (vector mode, top 10) on a spawned api: latency and recall. */
async function httpSearch(
  env: Record<string, string>,
  collectionId: string,
  chunkOf: (documentId: string, chunkIndex: number) => number,
  exactTop: number[][],
  exactTopFiltered: number[][],
) {
  // No query-embedding cache: every search pays its embedding call (to the local stub), as a new query does.
  const api = spawnQuarry("api/main.ts", { ...env, LOG_LEVEL: "info", QUERY_EMBEDDING_CACHE: "0" });
  try {
    const url = String((await api.waitForLog((l) => l.msg === "api listening")).url);
    const client = apiClient(url, TEST_KEYS.acme);
    const ask = async (q: number, filtered: boolean) => {
      const [res, ms] = await timed(() => client.post(`/v1/collections/${collectionId}/search`, { query: `q${q}`, mode: "vector", top_k: K, ...(filtered ? { filter: FILTER } : {}) }));
      if (res.status !== 200 || res.body.data.length !== K) throw new Error(`search failed: ${res.status} ${res.text.slice(0, 300)}`);
      return { ms, found: (res.body.data as Array<{ document_id: string; chunk_index: number }>).map((h) => chunkOf(h.document_id, h.chunk_index)) };
    };
    const [, coldMs] = await timed(() => ask(0, false));
    for (let q = 1; q < Math.min(QUERIES, 10); q++) await ask(q, q % 2 === 1);
    const run = async (filtered: boolean) => {
      const answers = [];
      for (let q = 0; q < QUERIES; q++) answers.push(await ask(q, filtered));
      return { ms: percentiles(answers.map((a) => a.ms)), recall_at_10: recall(answers.map((a) => a.found), filtered ? exactTopFiltered : exactTop) };
    };
    const plain = await run(false);
    const filtered = await run(true);
    const apiPeakMb = Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${api.child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024);
    return { result: { cold_first_query_ms: Math.round(coldMs), ...plain, filtered }, apiPeakMb };
  } finally {
    await api.stop("SIGTERM");
  }
}
