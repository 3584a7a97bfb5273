import { afterAll, describe, expect, it } from "vitest";
import { MIME } from "../../shared/parsing/mime-types.ts";
import { ParsePool } from "../../shared/parsing/sandbox.ts";
import { corpusFile } from "../helpers/corpus.ts";

const PARSES = 8;
const pool = new ParsePool(
  { timeoutMs: 120_000, maxMemoryMb: 1024, maxPages: 2000, maxDecompressedBytes: 200 * 1024 * 1024, ocr: { enabled: false, languages: ["eng"], maxPages: 10 } },
  { entry: new URL("../helpers/heap-reporting-parse-thread.ts", import.meta.url), maxIdle: 1, recycleAfter: 1000 },
);
afterAll(() => pool.close());

describe("a warm parse thread frees every PDF it parsed", () => {
  it(`keeps its heap flat (± 10%) over ${PARSES} parses of the 352-page freeculture.pdf`, { timeout: 300_000 }, async () => {
    const book = corpusFile("pdf/freeculture.pdf");
    const heapMb: number[] = [];
    for (let i = 0; i < PARSES; i++) {
      const parsed = await pool.parse(book, MIME.pdf, { size: 800, overlap: 200 });
      expect(parsed.pageCount).toBe(352);
      heapMb.push(Number(parsed.title) / 2 ** 20);
    }
    expect(pool.threadsStarted).toBe(1);
    // Before the fix the heap grew by ~14 MB per parse (pdf-parse's destroy() throws on pdf.js 6).
    const settled = heapMb[1]!;
    for (const mb of heapMb.slice(2)) expect(Math.abs(mb - settled) / settled, `heap after each parse (MB): ${heapMb.map((m) => m.toFixed(1)).join(", ")}`).toBeLessThanOrEqual(0.1);
  });
});
