import { readdirSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { corpusPath } from "../test/helpers/corpus.ts";
import type { EngineRequest } from "./pdf-engines/engine-thread.ts";
import { type Judged, type Outcome, judge } from "./pdf-engines/checks.ts";
import { ENGINES, type EngineName, MEMORY_ENGINES } from "./pdf-engines/engines.ts";
import { median } from "./stats.ts";

const BENCH_FILES = ["pdf/freeculture.pdf", "pdf/tracemonkey.pdf", "pdf/160F-2019.pdf", "pdf/issue5747.pdf"].map(corpusPath);
const ROUNDS = Number(process.env.BENCH_PDF_ROUNDS ?? 3);
const MEMORY_PARSES = Number(process.env.BENCH_PDF_MEMORY_PARSES ?? 20);
const HEAP_MB = 1024;
const TEXT_TIMEOUT_MS = 60_000;
const ENTRY = new URL("./pdf-engines/engine-thread.ts", import.meta.url);

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A thread running one engine, with the sandbox's kind of limits: a heap cap and a wall-clock cap. */
class EngineThread {
  private readonly worker: Worker;
  readonly ready: Promise<string>;
  constructor(engine: EngineName) {
    this.worker = new Worker(ENTRY, { workerData: { engine }, resourceLimits: { maxOldGenerationSizeMb: HEAP_MB }, stdout: true, stderr: true });
    this.worker.stdout.resume();
    this.worker.stderr.resume();
    this.ready = new Promise((resolve, reject) => {
      this.worker.once("message", (m: { version: string }) => resolve(m.version));
      this.worker.once("error", reject);
    });
  }

  ask<T>(req: EngineRequest, timeoutMs = 600_000): Promise<T | { died: string }> {
    return new Promise((resolve) => {
      const done = (answer: T | { died: string }) => {
        clearTimeout(timer);
        this.worker.off("message", onMessage);
        this.worker.off("error", onError);
        this.worker.off("exit", onExit);
        resolve(answer);
      };
      const onMessage = (m: T) => done(m);
      const onError = (err: Error & { code?: string }) => done({ died: err.code === "ERR_WORKER_OUT_OF_MEMORY" ? `thread out of memory (${HEAP_MB} MB heap)` : `thread crashed: ${err.message}` });
      const onExit = (code: number) => done({ died: `thread exited (${code})` });
      const timer = setTimeout(() => {
        done({ died: `no answer in ${timeoutMs / 1000} s (thread terminated)` });
        void this.worker.terminate();
      }, timeoutMs);
      this.worker.on("message", onMessage);
      this.worker.once("error", onError);
      this.worker.once("exit", onExit);
      this.worker.postMessage(req);
    });
  }

  close = () => this.worker.terminate();
}

/** Pages/s over the four bench PDFs, one thread per engine, rounds interleaved between engines. */
async function speed(versions: Record<string, string>) {
  const threads = Object.fromEntries(ENGINES.map((e) => [e, new EngineThread(e)])) as Record<EngineName, EngineThread>;
  const runs: Record<string, Array<{ pages: number; ms: number; cpuMs: number }>> = {};
  try {
    for (const e of ENGINES) versions[e] = await threads[e].ready;
    for (const e of ENGINES) await threads[e].ask({ op: "speed", files: BENCH_FILES }); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const e of ENGINES) {
        const m = await threads[e].ask<{ pages: number; ms: number; cpuMs: number }>({ op: "speed", files: BENCH_FILES });
        if ("died" in m) throw new Error(`${e}: ${m.died}`);
        (runs[e] ??= []).push(m);
        process.stderr.write(`  round ${r + 1} ${e}: ${round(m.pages / (m.ms / 1000))} pages/s\n`);
      }
    }
  } finally {
    await Promise.all(ENGINES.map((e) => threads[e].close()));
  }
  return ENGINES.map((engine) => {
    const rs = runs[engine]!;
    const pps = rs.map((m) => m.pages / (m.ms / 1000));
    return {
      engine,
      version: versions[engine],
      pages: rs[0]!.pages,
      pagesPerSecond: { median: round(median(pps)), min: round(Math.min(...pps)), max: round(Math.max(...pps)) },
      cpuSecondsPer1000Pages: round(median(rs.map((m) => m.cpuMs / m.pages)), 2),
      roundsMs: rs.map((m) => round(m.ms)),
    };
  });
}

/** Every corpus PDF through every engine, each file in a fresh thread (a bomb takes only its own thread down). */
async function quality() {
  const files = readdirSync(corpusPath("pdf")).filter((f) => f.endsWith(".pdf")).sort();
  const rows: Array<{ file: string } & Record<string, Judged & { ms?: number; chars?: number }>> = [];
  for (const file of files) {
    const row = { file } as (typeof rows)[number];
    for (const engine of ENGINES) {
      const thread = new EngineThread(engine);
      try {
        await thread.ready;
        const answer = await thread.ask<Outcome>({ op: "text", file: corpusPath(`pdf/${file}`) }, TEXT_TIMEOUT_MS);
        const outcome: Outcome = "died" in answer ? { ok: false, died: answer.died } : answer;
        const judged = judge(file, outcome);
        row[engine] = { ...judged, ms: outcome.ms === undefined ? undefined : round(outcome.ms), chars: outcome.pages?.join("").length };
        process.stderr.write(`  ${file} ${engine}: ${judged.verdict} — ${judged.notes}\n`);
      } finally {
        await thread.close();
      }
    }
    rows.push(row);
  }
  return rows;
}

/** Heap (after GC), RSS and WASM memory over repeated parses of the same book in one thread. */
async function memory() {
  const results = [];
  for (const engine of MEMORY_ENGINES) {
    const thread = new EngineThread(engine);
    try {
      await thread.ready;
      const m = await thread.ask<{ ok: boolean; samples: Array<{ parse: number; heapMb: number; rssMb: number; wasmMb: number }> }>({ op: "memory", file: corpusPath("pdf/freeculture.pdf"), parses: MEMORY_PARSES });
      if ("died" in m) {
        results.push({ engine, died: m.died });
        continue;
      }
      const first = m.samples[0]!;
      const last = m.samples.at(-1)!;
      results.push({
        engine,
        parses: MEMORY_PARSES,
        heapMb: { afterFirst: first.heapMb, afterLast: last.heapMb, growthPerParse: round((last.heapMb - first.heapMb) / (MEMORY_PARSES - 1), 2) },
        rssMb: { afterFirst: first.rssMb, afterLast: last.rssMb },
        wasmMb: { afterFirst: first.wasmMb, afterLast: last.wasmMb },
        samples: m.samples,
      });
      process.stderr.write(`  memory ${engine}: heap ${first.heapMb} → ${last.heapMb} MB, rss ${first.rssMb} → ${last.rssMb} MB, wasm ${first.wasmMb} → ${last.wasmMb} MB\n`);
    } finally {
      await thread.close();
    }
  }
  return results;
}

/**
 * pdf.js 5.4.296 (pdf-parse's own pin), pdf.js 6.5.438 (Quarry's override), PDFium (WASM) and
 * Quarry's PDF parser itself: speed over the four bench PDFs (1,104 pages, median of interleaved
 * rounds, thread CPU per 1,000 pages), text quality on every corpus PDF, and memory over repeated
 * parses of one book. `BENCH_PDF_PARTS=speed,quality,memory` picks parts.
 */
export async function pdfEnginesBench(): Promise<object> {
  const parts = new Set((process.env.BENCH_PDF_PARTS ?? "speed,quality,memory").split(","));
  const versions: Record<string, string> = {};
  const result: Record<string, unknown> = { engines: ENGINES, rounds: ROUNDS, benchFiles: BENCH_FILES.map((f) => f.replace(/.*corpus\//, "")), threadHeapMb: HEAP_MB };
  if (parts.has("speed")) result.speed = await speed(versions);
  if (parts.has("quality")) result.quality = await quality();
  if (parts.has("memory")) result.memory = await memory();
  result.versions = versions;
  return result;
}
