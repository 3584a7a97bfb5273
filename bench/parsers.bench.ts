import { ParsePool } from "../shared/parsing/sandbox.ts";
import { detectType } from "../shared/parsing/detect-type.ts";
import { corpusFile } from "../test/helpers/corpus.ts";
import { median } from "./stats.ts";

/** Files that parse to text (the corpus's failure cases are not throughput). Unit: what a reader counts. */
const FILES: Array<{ file: string; unit: "sheets" | "slides" | "documents" }> = [
  { file: "xlsx/2023-half-year-analyses-by-segment.xlsx", unit: "sheets" },
  { file: "xlsx/text_and_numbers.xlsx", unit: "sheets" },
  { file: "xlsx/large_strings.xlsx", unit: "sheets" },
  { file: "xlsx/test.ods", unit: "sheets" },
  { file: "pptx/sample-presentation.pptx", unit: "slides" },
  { file: "pptx/test.pptx", unit: "slides" },
  { file: "doc/test05.doc", unit: "documents" },
  { file: "doc/test12.doc", unit: "documents" },
  { file: "rtf/eng_spa_mult.rtf", unit: "documents" },
  { file: "epub/winter-sports.epub", unit: "documents" },
];
const RUNS = Number(process.env.BENCH_PARSER_RUNS ?? 7);
const LARGE_RUNS = 3;

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Each new parser over its corpus files through the real sandbox (one warm worker thread, the
 * service's default limits, chunking included, as an ingest job runs it): a warm-up parse, then
 * several timed runs per file. Throughput is in the file's own unit (sheets with text, slides, or
 * whole documents) and in extracted characters, per second, as median and min–max.
 */
export async function parsersBench(): Promise<object> {
  const pool = new ParsePool({ timeoutMs: 120_000, maxMemoryMb: 1024, maxPages: 2000, maxDecompressedBytes: 200 * 1024 * 1024, ocr: { enabled: false, languages: ["eng"], maxPages: 10 } });
  const results = [];
  try {
    for (const { file, unit } of FILES) {
      const bytes = corpusFile(file);
      const mime = await detectType(bytes, file);
      const first = await pool.parse(bytes, mime, { size: 800, overlap: 200 });
      const units = unit === "sheets" ? new Set(first.chunks.map((c) => c.sheet)).size : unit === "slides" ? (first.pageCount ?? 0) : 1;
      const chars = first.chunks.reduce((n, c) => n + c.text.length, 0);
      const ms: number[] = [];
      for (let i = 0; i < (file.includes("large_strings") ? LARGE_RUNS : RUNS); i++) {
        const started = performance.now();
        await pool.parse(bytes, mime, { size: 800, overlap: 200 });
        ms.push(performance.now() - started);
      }
      const perSecond = (n: number) => ({ median: round(n / (median(ms) / 1000)), min: round(n / (Math.max(...ms) / 1000)), max: round(n / (Math.min(...ms) / 1000)) });
      results.push({
        file,
        mime,
        bytes: bytes.length,
        unit,
        units,
        chunks: first.chunks.length,
        textChars: chars,
        runs: ms.length,
        ms: { median: round(median(ms)), min: round(Math.min(...ms)), max: round(Math.max(...ms)) },
        unitsPerSecond: perSecond(units),
        textMbPerSecond: perSecond(chars / 1e6),
      });
      process.stderr.write(`  ${file}: ${round(median(ms))} ms median, ${perSecond(units).median} ${unit}/s\n`);
    }
  } finally {
    await pool.close();
  }
  return { runsPerFile: RUNS, largeFileRuns: LARGE_RUNS, sandbox: "one warm parse thread, default limits, chunking 800/200 tokens", results };
}
