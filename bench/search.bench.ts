/**
 * Search latency at 100k chunks on the embedded store, in one run:
 * - the vector store alone (vector with the ANN index, vector with a 10 % filter, keyword);
 * - `POST /v1/collections/:id/search` over HTTP against a spawned api, for each mode;
 * - the same HTTP searches while documents are being ingested into the same collection through the
 *   real pipeline (api + a worker: parse, chunk, embed, upsert, and the maintenance writes queue).
 *
 * Vectors are semantic-like, 384 dimensions (bench/semantic-vectors.ts, as the ANN bench; unlike
 * the local lexical embedder's), served by a local OpenAI-compatible embedding endpoint so that
 * the api embeds each query as the pipeline would. The 100k chunks are inserted
 * straight into Postgres and LanceDB (ingesting them through the pipeline is the ingest bench).
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { loadConfig } from "../shared/config/env.ts";
import { createDeps } from "../shared/deps.ts";
import { createLogger } from "../shared/logging/logger.ts";
import { pointId } from "../shared/use-cases/point-id.ts";
import { createCollection } from "../shared/use-cases/collections.ts";
import { optimizeVectors } from "../shared/use-cases/optimize-vectors.ts";
import { apiClient } from "../test/helpers/http.ts";
import { spawnQuarry } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS } from "../test/helpers/test-env.ts";
import { SemanticVectors } from "./semantic-vectors.ts";
import { percentiles, timed } from "./stats.ts";

const CHUNKS = Number(process.env.BENCH_SEARCH_CHUNKS ?? 100_000);
const PER_DOC = 100;
const QUERIES = Number(process.env.BENCH_SEARCH_QUERIES ?? 300);
const DIMS = 384;

// A deterministic pseudo-random stream, so every run searches the same corpus.
function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const VOCABULARY = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);

/**
 * Text → a semantic-like unit vector (bench/semantic-vectors.ts: topics and clusters in a
 * low-dimension subspace, as the ANN bench uses), chosen by a hash of the text.
 */
function semanticLike(vectors: SemanticVectors, text: string): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const out = new Float32Array(vectors.dims);
  vectors.stream(h >>> 0, 1)(out, 0);
  return Array.from(out);
}

/** An OpenAI-compatible `/v1/embeddings` that embeds with `semanticLike`. */
async function embeddingServer(centres: SemanticVectors): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw) as { input: string | string[]; model: string };
      const input = Array.isArray(body.input) ? body.input : [body.input];
      const data = input.map((text, index) => ({ object: "embedding", index, embedding: semanticLike(centres, text) }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server };
}

export async function searchBench() {
  const random = rng(42);
  const centres = new SemanticVectors(DIMS, 1);
  const embed = await embeddingServer(centres);
  const env = createTestEnv({ LOG_LEVEL: "warn", OPENAI_API_KEY: "bench-key", OPENAI_BASE_URL: embed.url, VECTOR_INDEX_MIN_CHUNKS: "20000" });
  const config = loadConfig(env.env);
  const deps = await createDeps(config, createLogger(config, "bench"));
  const sentence = (n: number) => Array.from({ length: n }, () => VOCABULARY[Math.floor(random() ** 2 * VOCABULARY.length)]).join(" ");
  const stopAll: Array<() => Promise<unknown>> = [];
  try {
    const collection = await createCollection(deps, "acme", { name: "bench", embedding: { provider: "openai", model: "bench-semantic", dimensions: DIMS } });
    const ref = { tenantId: "acme", collectionId: collection.id, version: 0 };
    const [, loadMs] = await timed(async () => {
      for (let d = 0; d < CHUNKS / PER_DOC; d++) {
        const documentId = randomUUID();
        const metadata = { group: d % 10, year: 2000 + (d % 25) };
        const texts = Array.from({ length: PER_DOC }, () => sentence(120));
        await deps.db.query(
          `INSERT INTO documents (id, tenant_id, collection_id, title, status, mime_type, size_bytes, sha256, chunk_count, metadata)
           VALUES ($1, 'acme', $2, $3, 'ready', 'text/plain', 0, $4, $5, $6)`,
          [documentId, collection.id, `doc ${d}`, documentId.replaceAll("-", ""), PER_DOC, metadata],
        );
        await deps.db.query(
          `INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count)
           SELECT $1, i - 1, 'acme', $2, t, 120 FROM unnest($3::text[]) WITH ORDINALITY AS u(t, i)`,
          [documentId, collection.id, texts],
        );
        await deps.vectorStore.upsert(
          ref,
          texts.map((text, i) => ({ id: pointId(documentId, i), vector: semanticLike(centres, text), documentId, chunkIndex: i, metadata, text })),
        );
      }
    });
    // The maintenance a collection gets: compaction, scalar and keyword indexes, the ANN index.
    const [, optimizeMs] = await timed(() => optimizeVectors(deps, { collectionId: collection.id }));

    const queries = Array.from({ length: QUERIES }, () => sentence(6));
    const vectors = queries.map((q) => semanticLike(centres, q));
    const filter = { group: 3 }; // 10 % of the documents
    const store = { vector: [] as number[], filtered: [] as number[], keyword: [] as number[], exact: [] as number[] };
    let found = 0;
    for (const [i, vector] of vectors.entries()) {
      const [hits, ms] = await timed(() => deps.vectorStore.search(ref, vector, { topK: 10 }));
      store.vector.push(ms);
      store.filtered.push((await timed(() => deps.vectorStore.search(ref, vector, { topK: 10, filter })))[1]);
      store.keyword.push((await timed(() => deps.vectorStore.keywordSearch(ref, queries[i]!, { topK: 10 })))[1]);
      if (i < 50) {
        // Recall of the indexed search against LanceDB's exact one (no index), on 50 queries.
        const table = await (await import("@lancedb/lancedb")).connect(`${config.DATA_DIR}/vectors`);
        const points = await table.openTable(`points_${collection.id.replaceAll("-", "")}`);
        const [exact, exactMs] = await timed(() => points.vectorSearch(vector).distanceType("cosine").bypassVectorIndex().select(["id", "_distance"]).limit(10).toArray());
        store.exact.push(exactMs);
        const truth = new Set(exact.map((r) => String(r.id)));
        found += hits.filter((h) => truth.has(h.id)).length;
        table.close();
      }
    }

    // BENCH_PROFILE_DIR: the api writes a CPU profile there when it stops (where the time goes).
    const profile: Record<string, string> = process.env.BENCH_PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } : {};
    const api = spawnQuarry("api/main.ts", { ...env.env, LOG_LEVEL: "info", ...profile });
    stopAll.push(() => api.stop("SIGTERM"));
    const url = String((await api.waitForLog((l) => l.msg === "api listening")).url);
    const client = apiClient(url, TEST_KEYS.acme);
    const modes = ["vector", "hybrid", "keyword"] as const;
    const measureHttp = async (label: string) => {
      const out: Record<string, ReturnType<typeof percentiles>> = {};
      const samples: Record<string, number[]> = { vector: [], hybrid: [], keyword: [], vector_filtered: [] };
      // Server-Timing steps of the hybrid searches: where the time goes inside the api.
      const steps: Record<string, number[]> = {};
      for (const q of queries) {
        for (const mode of modes) {
          const [res, ms] = await timed(() => client.post(`/v1/collections/${collection.id}/search`, { query: q, top_k: 10, mode }));
          if (res.status !== 200 || res.body.data.length === 0) throw new Error(`${label} ${mode} search failed: ${res.status} ${res.text.slice(0, 200)}`);
          samples[mode]!.push(ms);
          if (mode === "hybrid") {
            const t: Record<string, number> = {};
            for (const part of String(res.headers.get("server-timing") ?? "").split(",")) {
              const [step, dur] = part.trim().split(";dur=");
              if (step && dur) t[step] = Number(dur);
            }
            for (const [step, dur] of Object.entries(t)) (steps[step] ??= []).push(dur);
            // embed → vector runs beside keyword: the search itself is the longer of the two branches.
            const inside = (t.collection ?? 0) + Math.max((t.embed ?? 0) + (t.vector ?? 0), t.keyword ?? 0) + (t.join ?? 0);
            (steps.outside_search ??= []).push(ms - inside);
          }
        }
        const [res, ms] = await timed(() => client.post(`/v1/collections/${collection.id}/search`, { query: q, top_k: 10, mode: "vector", filter }));
        if (res.status !== 200) throw new Error(`${label} filtered search failed: ${res.status}`);
        samples.vector_filtered!.push(ms);
      }
      for (const [k, v] of Object.entries(samples)) out[k] = percentiles(v);
      for (const [k, v] of Object.entries(steps)) out[`hybrid_step_${k}`] = percentiles(v);
      return out;
    };
    for (const q of queries.slice(0, 20)) await client.post(`/v1/collections/${collection.id}/search`, { query: q, mode: "hybrid" }); // warm-up
    const http = await measureHttp("idle");

    // The same searches while a worker ingests documents into the collection, one every 250 ms.
    const worker = spawnQuarry("workers/main.ts", { ...env.env, LOG_LEVEL: "info" });
    stopAll.push(() => worker.stop("SIGTERM"));
    await worker.waitForLog((l) => l.msg === "worker ready");
    let writing = true;
    let uploaded = 0;
    const writer = (async () => {
      while (writing) {
        const text = Array.from({ length: 20 }, () => `${sentence(110)}.`).join("\n\n");
        const res = await client.post(`/v1/collections/${collection.id}/documents`, { text, metadata: { group: uploaded % 10 } });
        if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${res.text.slice(0, 200)}`);
        uploaded++;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await new Promise((r) => setTimeout(r, 5_000)); // let the first writes land
    const [during, duringMs] = await timed(() => measureHttp("during ingest"));
    writing = false;
    await writer;
    const chunksAfter = await deps.vectorStore.count(ref);

    return {
      chunks: CHUNKS,
      dimensions: DIMS,
      vectors: "bench/semantic-vectors.ts (2,048 clusters in 64 topics in a 64-dimension subspace, 15 % isotropic noise), chosen by a hash of the text",
      queries: QUERIES,
      top_k: 10,
      filter: JSON.stringify(filter),
      load_seconds: Math.round(loadMs / 100) / 10,
      maintenance_seconds: Math.round(optimizeMs / 100) / 10,
      recall_at_10_vs_exact: Math.round((found / (Math.min(50, QUERIES) * 10)) * 1000) / 1000,
      store_ms: {
        vector_ann: percentiles(store.vector),
        vector_ann_filtered: percentiles(store.filtered),
        keyword: percentiles(store.keyword),
        vector_exact_no_index: percentiles(store.exact),
      },
      http_ms: http,
      during_ingest: {
        documents_uploaded: uploaded,
        chunks_after: chunksAfter,
        seconds: Math.round(duringMs / 100) / 10,
        http_ms: during,
      },
    };
  } finally {
    for (const stop of stopAll.reverse()) await stop().catch(() => undefined);
    await deps.close();
    await env.cleanup();
    embed.server.close();
  }
}
