/**
 * Backup and restore of one 100k-chunk collection on the embedded store, in one run:
 *
 * - backup time and size (records vs vectors), timed step by step from outside (the deps handed to
 *   `takeBackup` are wrapped: records export, vector snapshot, copy into backup storage, read-back);
 * - `POST /v1/collections/:id/search` latency against a spawned api process while the backup runs
 *   (this process plays the worker), next to a baseline loop of the same length just before it; the
 *   search client runs in a worker thread, so the backup's work on this event loop does not delay
 *   the client's own timing;
 * - restore in place (a new generation + the switch) and restore as a new collection, step by step;
 * - a correctness check: after each restore the same queries return the same top 5 (ids, scores,
 *   texts) as before the backup, or the bench fails;
 * - peak RSS of this process, overall and per phase (sampled), and of the api.
 *
 * Chunks are synthetic (pseudo-words from a fixed, skewed vocabulary, about the size of an
 * 800-token English chunk), inserted straight into Postgres in bulk; their vectors come from the
 * local embedder (quarry-hash-v1, 384 dimensions) and are upserted in batches of 10,000, then the
 * scheduled maintenance runs once. Everything lives in a throwaway database (quarry_bench_<random>),
 * a temporary DATA_DIR and a unique queue prefix, removed at the end.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import * as lancedb from "@lancedb/lancedb";
import { v5 as uuidv5 } from "uuid";
import { newBackupId } from "../shared/backup/backup-manifest.ts";
import { restoreBackup } from "../shared/backup/restore-backup.ts";
import { takeBackup } from "../shared/backup/take-backup.ts";
import { loadConfig } from "../shared/config/env.ts";
import { createDeps, type Deps } from "../shared/deps.ts";
import { LocalEmbeddingProvider } from "../shared/embeddings/local.embedding-provider.ts";
import { createLogger } from "../shared/logging/logger.ts";
import { countTokens } from "../shared/parsing/tokenizer.ts";
import { createCollection } from "../shared/use-cases/collections.ts";
import { optimizeVectors } from "../shared/use-cases/optimize-vectors.ts";
import { pointId } from "../shared/use-cases/point-id.ts";
import { searchCollection, type SearchHit } from "../shared/use-cases/search.ts";
import { spawnQuarry } from "../test/helpers/processes.ts";
import { deleteKeys, dropDatabase } from "../test/helpers/test-env.ts";
import { percentiles } from "./stats.ts";

const CHUNKS = Number(process.env.BENCH_BACKUP_CHUNKS ?? 100_000);
const PER_DOC = Number(process.env.BENCH_BACKUP_CHUNKS_PER_DOC ?? 100);
const RUNS = Number(process.env.BENCH_BACKUP_RUNS ?? 3);
/** Words per chunk: 580 pseudo-words are about 3,200 characters, an 800-token English chunk. */
const WORDS = Number(process.env.BENCH_BACKUP_CHUNK_WORDS ?? 580);
const QUERIES = Number(process.env.BENCH_BACKUP_QUERIES ?? 50);
/** The first run's baseline search loop; later ones last as long as the backup before them. */
const FIRST_BASELINE_MS = Number(process.env.BENCH_BACKUP_BASELINE_SECONDS ?? 20) * 1000;
const TARGETS = { backup_seconds: 60, restore_seconds: 120 };
const BATCH = 10_000;
const TENANT = "acme";
const API_KEY = "bench-key-0001";
const PG_BASE = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

// A deterministic pseudo-random stream, so every run backs up the same corpus.
function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const sec = (ms: number) => Math.round(ms / 100) / 10;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) * 10) / 10;
};

/** The largest RSS seen in each phase, sampled every 50 ms (and at each phase's end). */
class RssSampler {
  private peak = 0;
  private readonly timer = setInterval(() => this.sample(), 50);
  readonly phases: Record<string, number> = {};
  /** CPU seconds (user + system, every thread of this process) of the last call of each phase. */
  readonly cpu: Record<string, number> = {};
  sample() {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.sample();
    this.peak = process.memoryUsage.rss();
    const cpu = process.cpuUsage();
    try {
      return await fn();
    } finally {
      const used = process.cpuUsage(cpu);
      this.cpu[name] = Math.round((used.user + used.system) / 1e5) / 10;
      this.sample();
      this.phases[name] = Math.max(this.phases[name] ?? 0, mb(this.peak));
    }
  }
  stop() {
    clearInterval(this.timer);
  }
}

type CallLog = Array<{ method: string; start: number; ms: number; arg?: string }>;

/** `target` with the named async methods timed: every call's start and duration go to `log`. */
function timedMethods<T extends object>(target: T, names: string[], log: CallLog): T {
  return new Proxy(target, {
    get(t, p) {
      const value = Reflect.get(t, p, t) as unknown;
      if (typeof value !== "function") return value;
      if (typeof p !== "string" || !names.includes(p)) return (value as (...a: unknown[]) => unknown).bind(t);
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(t, args);
        } finally {
          log.push({ method: p, start: started, ms: performance.now() - started, arg: typeof args[1] === "string" ? args[1] : undefined });
        }
      };
    },
  });
}

const sum = (log: CallLog, method: string, match: (arg?: string) => boolean = () => true) =>
  sec(log.filter((l) => l.method === method && match(l.arg)).reduce((a, l) => a + l.ms, 0));

async function filesUnder(dir: string): Promise<Array<{ name: string; bytes: number; allocated: number }>> {
  const out = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    const st = await lstat(full);
    out.push({ name: path.relative(dir, full), bytes: st.size, allocated: st.blocks * 512 });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Fragments, size, indexes and vector type of a generation's points table, read straight from LanceDB. */
async function pointsTable(dataDir: string, collectionId: string, version: number) {
  const db = await lancedb.connect(path.join(dataDir, "vectors"));
  try {
    const table = await db.openTable(`points_${collectionId.replaceAll("-", "")}${version ? `_v${version}` : ""}`);
    const stats = await table.stats();
    const vector = (await table.schema()).fields.find((f) => f.name === "vector");
    const info = {
      fragments: stats.fragmentStats.numFragments,
      rows_per_fragment_p50: stats.fragmentStats.lengths.p50,
      bytes: stats.totalBytes,
      indexes: (await table.listIndices()).map((i) => i.columns.join(",")),
      vector_type: String(vector?.type),
    };
    table.close();
    return info;
  } finally {
    db.close();
  }
}

/** The api's search, called over and over from a worker thread until told to stop. */
const SEARCH_CLIENT = `
const { parentPort, workerData } = require("node:worker_threads");
const { url, key, queries } = workerData;
let running = false;
parentPort.on("message", async (m) => {
  if (m === "stop") { running = false; return; }
  running = true;
  const latencies = [];
  const errors = [];
  for (let i = 0; running; i++) {
    const started = performance.now();
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: "Bearer " + key, "content-type": "application/json" },
        body: JSON.stringify({ query: queries[i % queries.length], top_k: 5 }),
        signal: AbortSignal.timeout(30000),
      });
      const text = await res.text();
      const ms = performance.now() - started;
      let hits = -1;
      try { hits = JSON.parse(text).data.length; } catch {}
      if (res.status === 200 && hits === 5) latencies.push(ms);
      else errors.push({ ms, status: res.status, body: text.slice(0, 200) });
    } catch (err) {
      errors.push({ ms: performance.now() - started, error: String(err) });
    }
  }
  parentPort.postMessage({ latencies, errors });
});
`;

interface LoopResult {
  latencies: number[];
  errors: Array<Record<string, unknown>>;
}

class SearchClient {
  private readonly worker: Worker;
  constructor(url: string, collectionId: string, queries: string[]) {
    this.worker = new Worker(SEARCH_CLIENT, { eval: true, workerData: { url: `${url}/v1/collections/${collectionId}/search`, key: API_KEY, queries } });
    this.worker.unref();
  }
  /** Searches one after another until `until` settles. */
  async loop(until: Promise<unknown>): Promise<LoopResult & { seconds: number }> {
    const done = new Promise<LoopResult>((resolve) => this.worker.once("message", resolve));
    const started = performance.now();
    this.worker.postMessage("start");
    await until.catch(() => undefined);
    this.worker.postMessage("stop");
    const result = await done;
    return { ...result, seconds: sec(performance.now() - started) };
  }
  close() {
    return this.worker.terminate();
  }
}

const summary = (r: LoopResult & { seconds: number }) => ({
  seconds: r.seconds,
  searches: r.latencies.length + r.errors.length,
  errors: r.errors.length,
  ...(r.errors.length > 0 ? { error_samples: r.errors.slice(0, 3) } : {}),
  ms: r.latencies.length > 0 ? { ...percentiles(r.latencies), p95: p95(r.latencies) } : null,
});
function p95(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]! * 10) / 10;
}

type Top = Array<Pick<SearchHit, "document_id" | "chunk_index" | "score" | "text">>;

async function topFive(deps: Deps, collectionId: string, queries: string[]): Promise<{ tops: Top[]; ms: number[] }> {
  const tops: Top[] = [];
  const ms: number[] = [];
  for (const query of queries) {
    const started = performance.now();
    const { data: hits } = await searchCollection(deps, TENANT, collectionId, { query, topK: 5, mode: "vector" });
    ms.push(performance.now() - started);
    tops.push(hits.map((h) => ({ document_id: h.document_id, chunk_index: h.chunk_index, score: h.score, text: h.text })));
  }
  return { tops, ms };
}

/** Throws (failing the bench) unless `actual` holds the same hits as `expected`, documents renamed by `rename`. */
function assertSameTops(what: string, expected: Top[], actual: Top[], rename: (id: string) => string = (id) => id): void {
  for (const [q, want] of expected.entries()) {
    const got = actual[q] ?? [];
    const same =
      want.length === 5 &&
      got.length === want.length &&
      want.every((w, i) => {
        const g = got[i]!;
        return g.document_id === rename(w.document_id) && g.chunk_index === w.chunk_index && g.score === w.score && g.text === w.text;
      });
    if (!same) {
      const show = (t: Top) => JSON.stringify(t.map((h) => [h.document_id, h.chunk_index, h.score]));
      throw new Error(`${what}: query ${q} answers differently after the restore\nbefore: ${show(want)}\nafter:  ${show(got)}`);
    }
  }
}

async function seed(deps: Deps, collectionId: string, words: string[]) {
  const random = rng(42);
  const text = () => Array.from({ length: WORDS }, () => words[Math.floor(random() ** 2 * words.length)]).join(" ");
  const embedder = new LocalEmbeddingProvider();
  const documents = Math.ceil(CHUNKS / PER_DOC);
  const steps = { postgres_ms: 0, embed_ms: 0, vectors_ms: 0 };
  let chars = 0;
  const sample: string[] = [];
  for (let first = 0; first < documents; first += BATCH / PER_DOC) {
    const docs = Array.from({ length: Math.min(BATCH / PER_DOC, documents - first) }, (_, k) => {
      const d = first + k;
      const n = Math.min(PER_DOC, CHUNKS - d * PER_DOC);
      return { id: randomUUID(), n, title: `doc ${d}`, metadata: { group: d % 10, year: 2000 + (d % 25) }, texts: Array.from({ length: n }, text) };
    });
    const rows = docs.flatMap((d) => d.texts.map((t, i) => ({ documentId: d.id, index: i, text: t, metadata: d.metadata })));
    for (const r of rows) chars += r.text.length;
    if (sample.length < 200) sample.push(...rows.slice(0, 200 - sample.length).map((r) => r.text));
    let started = performance.now();
    await deps.db.query(
      `INSERT INTO documents (id, tenant_id, collection_id, title, status, mime_type, size_bytes, sha256, chunk_count, metadata)
       SELECT t.id, $1, $2, t.title, 'ready', 'text/plain', t.size, t.sha, t.n, t.meta::jsonb
       FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::text[]) AS t(id, title, size, sha, n, meta)`,
      [
        TENANT,
        collectionId,
        docs.map((d) => d.id),
        docs.map((d) => d.title),
        docs.map((d) => d.texts.reduce((a, t) => a + t.length, 0)),
        docs.map(() => randomBytes(32).toString("hex")),
        docs.map((d) => d.n),
        docs.map((d) => JSON.stringify(d.metadata)),
      ],
    );
    for (let i = 0; i < rows.length; i += 2000) {
      const part = rows.slice(i, i + 2000);
      await deps.db.query(
        `INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count)
         SELECT t.doc, t.idx, $1, $2, t.text, 800 FROM unnest($3::uuid[], $4::int[], $5::text[]) AS t(doc, idx, text)`,
        [TENANT, collectionId, part.map((r) => r.documentId), part.map((r) => r.index), part.map((r) => r.text)],
      );
    }
    steps.postgres_ms += performance.now() - started;
    started = performance.now();
    const vectors = await embedder.embed(rows.map((r) => r.text));
    steps.embed_ms += performance.now() - started;
    started = performance.now();
    await deps.vectorStore.upsert(
      { tenantId: TENANT, collectionId, version: 0 },
      rows.map((r, i) => ({ id: pointId(r.documentId, r.index), vector: vectors[i]!, documentId: r.documentId, chunkIndex: r.index, metadata: r.metadata, text: r.text })),
    );
    steps.vectors_ms += performance.now() - started;
    process.stderr.write(`  seeded ${Math.min(CHUNKS, (first + docs.length) * PER_DOC)} chunks\n`);
  }
  const started = performance.now();
  await optimizeVectors(deps);
  const tokens = sample.map((t) => countTokens(t));
  return {
    documents,
    chunk_chars_mean: Math.round(chars / CHUNKS),
    chunk_cl100k_tokens_mean: Math.round(tokens.reduce((a, b) => a + b, 0) / tokens.length),
    postgres_seconds: sec(steps.postgres_ms),
    embed_seconds: sec(steps.embed_ms),
    vector_upsert_seconds: sec(steps.vectors_ms),
    maintenance_seconds: sec(performance.now() - started),
  };
}

async function dropEverything(databaseUrl: string, prefix: string, dataDir: string) {
  await dropDatabase(databaseUrl);
  await deleteKeys(prefix);
  rmSync(dataDir, { recursive: true, force: true });
}

export async function backupBench() {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const url = new URL(PG_BASE);
  url.pathname = `/quarry_bench_${id}`;
  const databaseUrl = url.toString();
  const prefix = `{quarry-bench-${id}}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), `quarry-bench-${id}-`));
  const env = {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    DATA_DIR: dataDir,
    API_KEYS: `${TENANT}:${API_KEY}`,
    PORT: "0",
    OPS_PORT: "0",
    HOST: "127.0.0.1",
  };
  const config = loadConfig(env);
  const rss = new RssSampler();
  let deps: Deps | undefined;
  let api: ReturnType<typeof spawnQuarry> | undefined;
  let client: SearchClient | undefined;
  try {
    deps = await createDeps(config, createLogger(config, "bench"));
    const d = deps;
    const random = rng(7);
    const syllable = () => "bcdfghklmnprstvwz"[Math.floor(random() * 17)]! + "aeiou"[Math.floor(random() * 5)]! + (random() < 0.3 ? "nrst"[Math.floor(random() * 4)]! : "");
    const words = Array.from({ length: 8000 }, () => Array.from({ length: 1 + Math.floor(random() * 3) }, syllable).join(""));
    const queries = Array.from({ length: QUERIES }, () => Array.from({ length: 6 }, () => words[Math.floor(random() ** 2 * words.length)]).join(" "));

    const collection = await createCollection(d, TENANT, { name: "bench" });
    process.stderr.write(`  seeding ${CHUNKS} chunks …\n`);
    const seeded = await rss.phase("seed", () => seed(d, collection.id, words));
    const { rows: sizes } = await d.db.query<{ chunks: string; text: string }>(
      `SELECT pg_total_relation_size('chunks')::text AS chunks, (SELECT sum(octet_length(text)) FROM chunks)::text AS text`,
    );
    const vectorsOnDisk = (await filesUnder(path.join(dataDir, "vectors"))).reduce((a, f) => a + f.bytes, 0);
    const seededTable = await pointsTable(dataDir, collection.id, 0);
    const reference = await topFive(d, collection.id, queries);
    if (reference.tops.some((t) => t.length !== 5)) throw new Error("a reference query found fewer than 5 hits");

    api = spawnQuarry("api/main.ts", { ...env, LOG_LEVEL: "info" });
    const apiUrl = String((await api.waitForLog((l) => l.msg === "api listening")).url);
    client = new SearchClient(apiUrl, collection.id, queries);
    await client.loop(new Promise((r) => setTimeout(r, 2000))); // warm-up

    const runs: Array<{
      run: number;
      load_average_1m: { before: number; after: number };
      backup: { seconds: number; bytes: number } & Record<string, unknown>;
      search_baseline: ReturnType<typeof summary>;
      search_during_backup: ReturnType<typeof summary>;
      restore: Record<string, { seconds: number } & Record<string, unknown>>;
      max_rss_mb_so_far: number;
    }> = [];
    let baselineMs = FIRST_BASELINE_MS;
    for (let run = 1; run <= RUNS; run++) {
      process.stderr.write(`  run ${run}: baseline search ${sec(baselineMs)} s …\n`);
      const loadBefore = Math.round(os.loadavg()[0]! * 10) / 10;
      const baseline = await client.loop(new Promise((r) => setTimeout(r, baselineMs)));

      // Backup, with the search loop running beside it.
      process.stderr.write(`  run ${run}: backup …\n`);
      const backupId = newBackupId(new Date(), "manual", randomBytes(3).toString("hex"));
      const bLog: CallLog = [];
      const bStart = performance.now();
      const backupDeps = {
        db: d.db,
        collections: d.collections,
        jobs: d.jobs,
        logger: d.logger,
        vectorStore: timedMethods(d.vectorStore, ["snapshot"], bLog),
        backupStorage: timedMethods(d.backupStorage, ["writeFile", "verifyFile", "publishManifest"], bLog),
      };
      const backupDone = rss.phase(`backup`, () =>
        takeBackup(backupDeps, {
          backupId,
          trigger: "manual",
          createdAt: new Date(),
          collectionIds: [collection.id],
          checkpoint: async () => {},
          progress: async () => {},
        }),
      );
      const during = await client.loop(backupDone);
      const manifest = await backupDone;
      const backupMs = performance.now() - bStart;
      baselineMs = Math.max(5000, backupMs);
      const files = await filesUnder(path.join(dataDir, "backups", backupId));
      const isRecords = (n?: string) => Boolean(n?.endsWith("records.ndjson.gz"));
      const isVectors = (n?: string) => Boolean(n?.includes("/vectors/"));
      const backup = {
        seconds: sec(backupMs),
        cpu_seconds: rss.cpu.backup,
        steps_seconds: {
          records_export: sec((bLog.find((l) => l.method === "snapshot")?.start ?? bStart) - bStart),
          vector_snapshot: sum(bLog, "snapshot"),
          store_records_file: sum(bLog, "writeFile", isRecords),
          verify_records_file: sum(bLog, "verifyFile", isRecords),
          store_vector_files: sum(bLog, "writeFile", isVectors),
          verify_vector_files: sum(bLog, "verifyFile", isVectors),
          publish_manifest: sum(bLog, "publishManifest"),
        },
        bytes: files.reduce((a, f) => a + f.bytes, 0),
        allocated_bytes: files.reduce((a, f) => a + f.allocated, 0),
        records_bytes: files.filter((f) => f.name.endsWith("records.ndjson.gz")).reduce((a, f) => a + f.bytes, 0),
        vectors_bytes: files.filter((f) => f.name.includes(`${path.sep}vectors${path.sep}`)).reduce((a, f) => a + f.bytes, 0),
        files: files.length,
        vector_files: files.filter((f) => f.name.includes(`${path.sep}vectors${path.sep}`)).length,
        largest_files: [...files].sort((a, b) => b.bytes - a.bytes).slice(0, 4).map((f) => ({ name: f.name.split(path.sep).slice(2).join("/") || f.name, bytes: f.bytes })),
        manifest_points: manifest.collections[0]?.points,
      };

      // Restore in place, then beside the original; after each, the same answers.
      const restores: Record<string, { seconds: number } & Record<string, unknown>> = {};
      for (const asNew of [false, true]) {
        const kind = asNew ? "as_new_collection" : "in_place";
        process.stderr.write(`  run ${run}: restore ${kind} …\n`);
        const rLog: CallLog = [];
        const marks: Array<[number, number]> = [];
        const started = performance.now();
        const result = await rss.phase(`restore_${kind}`, () =>
          restoreBackup(
            {
              db: d.db,
              collections: d.collections,
              jobs: d.jobs,
              logger: d.logger,
              vectorStore: timedMethods(d.vectorStore, ["dropCollection", "restore", "documentCounts", "deleteDocument"], rLog),
              backupStorage: d.backupStorage,
            },
            {
              jobId: randomUUID(),
              backupId,
              collectionIds: [collection.id],
              asNewCollection: asNew,
              checkpoint: async () => {},
              progress: async (p) => void marks.push([p, performance.now()]),
            },
          ),
        );
        const ms = performance.now() - started;
        const at = (p: number) => marks.find(([q]) => q === p)?.[1] ?? started;
        const target = result.collections[0]!.restored_as;
        const after = await topFive(d, target, queries);
        // The same searches without Postgres: which half of search_after_restore_ms is the vector store's.
        const version = (await d.collections.findById(target))!.vector_version;
        const vectorMs: number[] = [];
        for (const vector of await new LocalEmbeddingProvider().embed(queries)) {
          const t0 = performance.now();
          await d.vectorStore.search({ tenantId: TENANT, collectionId: target, version }, vector, { topK: 5 });
          vectorMs.push(performance.now() - t0);
        }
        assertSameTops(`restore ${kind} (run ${run})`, reference.tops, after.tops, asNew ? (docId) => uuidv5(docId, target) : undefined);
        if (!asNew) {
          // The api (another process) answers the same too.
          const res = await fetch(`${apiUrl}/v1/collections/${collection.id}/search`, {
            method: "POST",
            headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
            body: JSON.stringify({ query: queries[0], top_k: 5 }),
          });
          const body = (await res.json()) as { data: SearchHit[] };
          assertSameTops(`restore in place, over HTTP (run ${run})`, reference.tops.slice(0, 1), [body.data.map((h) => ({ document_id: h.document_id, chunk_index: h.chunk_index, score: h.score, text: h.text }))]);
        }
        const drops = rLog.filter((l) => l.method === "dropCollection");
        restores[kind] = {
          seconds: sec(ms),
          steps_seconds: {
            download_and_verify: sec(at(30) - started),
            clear_target_generation: sec(drops[0]?.ms ?? 0),
            vector_restore: sum(rLog, "restore"),
            count_points_per_document: sum(rLog, "documentCounts"),
            read_records_and_other: sec(at(80) - at(30) - (drops[0]?.ms ?? 0) - rLog.filter((l) => ["restore", "documentCounts", "deleteDocument"].includes(l.method)).reduce((a, l) => a + l.ms, 0)),
            postgres_switch: sec(at(95) - at(80)),
            drop_old_generation: sec(started + ms - at(95)),
          },
          cpu_seconds: rss.cpu[`restore_${kind}`],
          same_top5_for_all_queries: true,
          vector_store_search_after_restore_ms: percentiles(vectorMs),
          points_table: await pointsTable(dataDir, target, version),
          search_after_restore_ms: percentiles(after.ms),
        };
        if (asNew) {
          // Leave the database as it was for the next run.
          await d.db.query(`DELETE FROM collections WHERE id = $1`, [target]);
          await d.vectorStore.dropCollection({ tenantId: TENANT, collectionId: target });
        }
      }
      await d.backupStorage.delete(backupId);
      const record = { run, load_average_1m: { before: loadBefore, after: Math.round(os.loadavg()[0]! * 10) / 10 }, backup, search_baseline: summary(baseline), search_during_backup: summary(during), restore: restores, max_rss_mb_so_far: mb(process.resourceUsage().maxRSS * 1024) };
      process.stderr.write(`${JSON.stringify(record)}\n`);
      runs.push(record);
    }

    const restoreSeconds = (kind: string) => runs.map((r) => r.restore[kind]!.seconds);
    const missed = runs.flatMap((r) => {
      const out: string[] = [];
      if (r.backup.seconds >= TARGETS.backup_seconds) out.push(`run ${r.run}: backup ${r.backup.seconds} s`);
      for (const kind of ["in_place", "as_new_collection"]) {
        const s = r.restore[kind]!.seconds;
        if (s >= TARGETS.restore_seconds) out.push(`run ${r.run}: restore ${kind} ${s} s`);
      }
      if (r.search_during_backup.errors > 0) out.push(`run ${r.run}: ${r.search_during_backup.errors} searches failed during the backup`);
      return out;
    });
    const apiPeak = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${api.child.pid}/status`, "utf8"))?.[1] ?? 0);
    return {
      store: "embedded (LanceDB)",
      chunks: CHUNKS,
      documents: seeded.documents,
      chunks_per_document: PER_DOC,
      chunk_text: `${WORDS} synthetic pseudo-words, ${seeded.chunk_chars_mean} characters on average (${seeded.chunk_cl100k_tokens_mean} cl100k tokens: the pseudo-words tokenize worse than English; ~3,200 characters is an 800-token English chunk)`,
      vectors: "local embedder quarry-hash-v1, 384 dimensions (real embeddings of the chunk texts, not random)",
      search_load: "POST /v1/collections/:id/search (top 5) against a spawned api process, one request at a time, from a worker thread; the backup runs in the bench process (the worker's role)",
      seed: { ...seeded, points_table: seededTable, postgres_chunks_table_bytes: Number(sizes[0]!.chunks), postgres_chunk_text_bytes: Number(sizes[0]!.text), lancedb_bytes: vectorsOnDisk },
      targets: { backup_seconds_below: TARGETS.backup_seconds, restore_seconds_below: TARGETS.restore_seconds, search_errors_during_backup: 0 },
      median: {
        backup_seconds: median(runs.map((r) => r.backup.seconds)),
        backup_bytes: median(runs.map((r) => r.backup.bytes)),
        restore_in_place_seconds: median(restoreSeconds("in_place")),
        restore_as_new_collection_seconds: median(restoreSeconds("as_new_collection")),
        search_p50_ms_baseline: median(runs.map((r) => r.search_baseline.ms?.p50 ?? NaN)),
        search_p50_ms_during_backup: median(runs.map((r) => r.search_during_backup.ms?.p50 ?? NaN)),
        search_p95_ms_baseline: median(runs.map((r) => r.search_baseline.ms?.p95 ?? NaN)),
        search_p95_ms_during_backup: median(runs.map((r) => r.search_during_backup.ms?.p95 ?? NaN)),
      },
      missed_targets: missed,
      correctness: `after every restore (in place and as a new collection) all ${QUERIES} queries returned the same top 5 (document, chunk, score, text) as before the first backup`,
      search_before_backup_ms: percentiles(reference.ms),
      peak_rss_mb: { bench_process: mb(process.resourceUsage().maxRSS * 1024), bench_process_by_phase_sampled: rss.phases, api_process: Math.round(apiPeak / 1024) },
      runs,
    };
  } finally {
    rss.stop();
    await client?.close();
    await api?.stop("SIGTERM");
    await deps?.close();
    await dropEverything(databaseUrl, prefix, dataDir);
  }
}
