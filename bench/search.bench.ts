/**
 * Search latency at 100k chunks on the embedded store: the vector store alone, and the whole
 * `POST /v1/collections/:id/search` over HTTP (query embedding, LanceDB, Postgres join) against a
 * spawned api process. Chunks are synthetic (words drawn from a fixed vocabulary), inserted
 * straight into Postgres and LanceDB: ingesting 100k chunks through the pipeline is not what is
 * measured here.
 */
import { randomUUID } from "node:crypto";
import { loadConfig } from "../shared/config/env.ts";
import { createDeps } from "../shared/deps.ts";
import { LocalEmbeddingProvider } from "../shared/embeddings/local.embedding-provider.ts";
import { createLogger } from "../shared/logging/logger.ts";
import { pointId } from "../shared/use-cases/point-id.ts";
import { createCollection } from "../shared/use-cases/collections.ts";
import { optimizeVectors } from "../shared/use-cases/optimize-vectors.ts";
import { apiClient } from "../test/helpers/http.ts";
import { spawnQuarry } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS } from "../test/helpers/test-env.ts";
import { percentiles, timed } from "./stats.ts";

const CHUNKS = Number(process.env.BENCH_SEARCH_CHUNKS ?? 100_000);
const PER_DOC = 100;
const QUERIES = Number(process.env.BENCH_SEARCH_QUERIES ?? 200);

// A deterministic pseudo-random stream, so every run searches the same corpus.
function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const VOCABULARY = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);

export async function searchBench() {
  const env = createTestEnv({ LOG_LEVEL: "warn" });
  const config = loadConfig(env.env);
  const deps = await createDeps(config, createLogger(config, "bench"));
  const random = rng(42);
  const sentence = (n: number) => Array.from({ length: n }, () => VOCABULARY[Math.floor(random() ** 2 * VOCABULARY.length)]).join(" ");
  try {
    const collection = await createCollection(deps, "acme", { name: "bench" });
    const ref = { tenantId: "acme", collectionId: collection.id, version: 0 };
    const embedder = new LocalEmbeddingProvider();
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
        const vectors = await embedder.embed(texts);
        await deps.vectorStore.upsert(ref, vectors.map((vector, i) => ({ id: pointId(documentId, i), vector, documentId, chunkIndex: i, metadata })));
      }
    });

    const queries = Array.from({ length: QUERIES }, () => sentence(6));
    const vectors = await embedder.embed(queries);
    const filter = { year: { $gte: 2020 }, group: { $in: [1, 2, 3] } };
    const measure = async () => {
      const plain: number[] = [];
      const filtered: number[] = [];
      for (const vector of vectors) {
        plain.push((await timed(() => deps.vectorStore.search(ref, vector, { topK: 5 })))[1]);
        filtered.push((await timed(() => deps.vectorStore.search(ref, vector, { topK: 5, filter })))[1]);
      }
      return { plain: percentiles(plain), filtered: percentiles(filtered) };
    };
    // Right after ingestion (one small fragment per upsert), then after the scheduled maintenance.
    const fragmented = await measure();
    const [, optimizeMs] = await timed(() => optimizeVectors(deps));
    const optimized = await measure();

    const api = spawnQuarry("api/main.ts", { ...env.env, LOG_LEVEL: "info" });
    try {
      const url = String((await api.waitForLog((l) => l.msg === "api listening")).url);
      const client = apiClient(url, TEST_KEYS.acme);
      await client.post(`/v1/collections/${collection.id}/search`, { query: queries[0] }); // warm-up
      const http: number[] = [];
      for (const q of queries) {
        const [res, ms] = await timed(() => client.post(`/v1/collections/${collection.id}/search`, { query: q, top_k: 5 }));
        if (res.status !== 200 || res.body.data.length !== 5) throw new Error(`search failed: ${res.status} ${res.text.slice(0, 200)}`);
        http.push(ms);
      }
      return {
        chunks: CHUNKS,
        dimensions: 384,
        queries: QUERIES,
        load_seconds: Math.round(loadMs / 100) / 10,
        maintenance_seconds: Math.round(optimizeMs / 100) / 10,
        vector_store_fresh_ms: fragmented.plain,
        vector_store_fresh_filtered_ms: fragmented.filtered,
        vector_store_ms: optimized.plain,
        vector_store_filtered_ms: optimized.filtered,
        filter: JSON.stringify(filter),
        http_search_ms: percentiles(http),
      };
    } finally {
      await api.stop("SIGTERM");
    }
  } finally {
    await deps.close();
    await env.cleanup();
  }
}
