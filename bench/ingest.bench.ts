/**
 * Ingestion throughput of the whole pipeline (api + worker as separate processes, real
 * Redis/Postgres/LanceDB, the local zero-network embedder) next to raw pdf-parse on the same PDFs
 * in the same run, and the worker's peak RSS.
 */
import path from "node:path";
import { PDFParse } from "pdf-parse";
import { corpusFile } from "../test/helpers/corpus.ts";
import { apiClient, uploadFile } from "../test/helpers/http.ts";
import { startApiAndWorker } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor } from "../test/helpers/test-env.ts";
import { cpuSeconds, memoryMb, threadCpuDelta, threadCpuSeconds } from "./stats.ts";

const FILES = ["pdf/freeculture.pdf", "pdf/tracemonkey.pdf", "pdf/160F-2019.pdf", "pdf/issue5747.pdf"];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = process.env.BENCH_CONCURRENCY ?? "ingest=2,embed=4";

async function rawPdfParse(): Promise<{ pages: number; seconds: number; pagesPerSecond: number; cpuSeconds: number }> {
  const parse = async (file: string) => {
    const parser = new PDFParse({ data: new Uint8Array(corpusFile(file)) });
    const result = await parser.getText();
    await parser.destroy().catch(() => undefined);
    return result.total;
  };
  for (const file of FILES) await parse(file); // warm-up: module load, JIT
  let pages = 0;
  const started = performance.now();
  const cpuBefore = cpuSeconds(process.pid);
  for (let round = 0; round < ROUNDS; round++) for (const file of FILES) pages += await parse(file);
  const seconds = (performance.now() - started) / 1000;
  // Every thread of this process: pdf.js's own, and V8's helpers (concurrent GC, compilation).
  const cpuSecondsUsed = Math.round((cpuSeconds(process.pid) - cpuBefore) * 10) / 10;
  return { pages, seconds, pagesPerSecond: pages / seconds, cpuSeconds: cpuSecondsUsed };
}

async function pipeline() {
  // BENCH_OCR_ENABLED=false: no OCR of freeculture.pdf's cover (its one page without a text layer),
  // as a pipeline that does no OCR (the LangChain.js peer) does.
  const env = createTestEnv({ LOG_LEVEL: "warn", WORKER_CONCURRENCY: CONCURRENCY, OCR_ENABLED: process.env.BENCH_OCR_ENABLED ?? "true" });
  // BENCH_NODE_OPTIONS reaches the api and the worker (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
  const nodeOptions = {
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
  };
  const processes = await startApiAndWorker({ ...env.env, LOG_LEVEL: "info", ...nodeOptions });
  const { api, worker, url } = processes;
  try {
    const client = apiClient(url, TEST_KEYS.acme);

    // Warm-up round (not timed): the first parse thread and LanceDB tables start cold.
    // One document per ingest slot, so that every parse thread has started and compiled pdf.js:
    // tracemonkey.pdf, which needs no OCR (a thread that ran OCR is not kept), each in a collection
    // of its own (the same bytes twice in one collection are one document).
    const slots = Number(/ingest=(\d+)/.exec(CONCURRENCY)?.[1] ?? 2);
    const warmJobs = await Promise.all(
      Array.from({ length: slots }, async (_, i) => {
        const warm = (await client.post("/v1/collections", { name: `warm-up-${i}` })).body.id;
        return (await uploadFile(url, TEST_KEYS.acme, warm, { name: "t.pdf", content: corpusFile("pdf/tracemonkey.pdf") })).body.job.id as string;
      }),
    );
    for (const warmJob of warmJobs) await waitFor(async () => ((await client.get(`/v1/jobs/${warmJob}`)).body.status === "succeeded" ? true : undefined), 120_000);

    const cpuBefore = { api: cpuSeconds(api.child.pid!), worker: cpuSeconds(worker.child.pid!) };
    const threadsBefore = threadCpuSeconds(worker.child.pid!);
    const started = performance.now();
    const jobs: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const collection = (await client.post("/v1/collections", { name: `round-${round}` })).body.id;
      for (const file of FILES) {
        const res = await uploadFile(url, TEST_KEYS.acme, collection, { name: path.basename(file), content: corpusFile(file) });
        if (process.env.BENCH_DEBUG) console.error(new Date().toISOString(), "uploaded", file);
        jobs.push(res.body.job.id);
      }
    }
    let pages = 0;
    let chunks = 0;
    for (const id of jobs) {
      const job = await waitFor(async () => {
        const body = (await client.get(`/v1/jobs/${id}`)).body;
        return body.status === "succeeded" || body.status === "failed" ? body : undefined;
      }, 600_000, `job ${id}`);
      if (job.status !== "succeeded") throw new Error(`job ${id} failed: ${JSON.stringify(job.error)}`);
      pages += job.result.page_count;
      chunks += job.result.chunk_count;
    }
    const seconds = (performance.now() - started) / 1000;
    if (process.env.BENCH_DEBUG) for (const l of worker.logs.filter((x) => x.msg === "job succeeded" || x.msg === "document parsed")) console.error(l.time, l.job ?? "parse", l.pages ?? "", l.ms);
    const cpu = {
      workerCpuSeconds: Math.round((cpuSeconds(worker.child.pid!) - cpuBefore.worker) * 10) / 10,
      apiCpuSeconds: Math.round((cpuSeconds(api.child.pid!) - cpuBefore.api) * 10) / 10,
      // Where the worker's CPU went, by OS thread name (the parse threads are `WorkerThread`).
      workerCpuByThread: threadCpuDelta(threadsBefore, threadCpuSeconds(worker.child.pid!), cpuSeconds(worker.child.pid!) - cpuBefore.worker),
    };
    return { pages, chunks, seconds, pagesPerSecond: pages / seconds, ...cpu, workerPeakRssMb: memoryMb(worker.child.pid!, "VmHWM"), apiPeakRssMb: memoryMb(api.child.pid!, "VmHWM") };
  } finally {
    await processes.stop();
    await env.cleanup();
  }
}

export async function ingestBench() {
  const raw = await rawPdfParse();
  const whole = await pipeline();
  return {
    files: FILES,
    rounds: ROUNDS,
    embedder: "local (quarry-hash-v1, no network)",
    worker_concurrency: CONCURRENCY,
    ocr_enabled: (process.env.BENCH_OCR_ENABLED ?? "true") !== "false",
    raw_pdf_parse: { ...raw, pagesPerSecond: Math.round(raw.pagesPerSecond) },
    pipeline: { ...whole, pagesPerSecond: Math.round(whole.pagesPerSecond) },
    ratio_pipeline_to_raw: Number((whole.pagesPerSecond / raw.pagesPerSecond).toFixed(2)),
    target_ratio: 0.8,
  };
}
