import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors/app-error.ts";
import { detectType, SUPPORTED_MIME_TYPES } from "../../shared/parsing/detect-type.ts";
import { ParsePool, type SandboxLimits } from "../../shared/parsing/sandbox.ts";
import { CORPUS_EXPECTATIONS, corpusFile } from "../helpers/corpus.ts";

const limits: SandboxLimits = { timeoutMs: 60_000, maxMemoryMb: 1024, maxPages: 2000, maxDecompressedBytes: 200 * 1024 * 1024, ocr: { enabled: false, languages: ["eng"], maxPages: 10 } };
const HOSTILE = new URL("../helpers/hostile-parse-thread.ts", import.meta.url);
const chunking = { size: 800, overlap: 200 };
const pool = new ParsePool(limits);
const pools = [pool];
afterAll(() => Promise.all(pools.map((p) => p.close())));

function poolWith(overrides: Partial<SandboxLimits>, entry?: URL) {
  const p = new ParsePool({ ...limits, ...overrides }, { entry });
  pools.push(p);
  return p;
}

async function outcome(file: string, overrides?: Partial<SandboxLimits>) {
  const bytes = corpusFile(file);
  const mime = await detectType(bytes, file);
  if (!SUPPORTED_MIME_TYPES.includes(mime)) return { unsupported: mime };
  try {
    const parsed = await (overrides ? poolWith(overrides) : pool).parse(bytes, mime, chunking);
    return { text: parsed.chunks.map((c) => c.text).join("\n\n"), pages: parsed.pageCount, chunks: parsed.chunks };
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, message: err.message, retryable: err.retryable };
    throw err;
  }
}

describe("every corpus file parses to plausible text or fails with its code", () => {
  it.each(CORPUS_EXPECTATIONS.map((e) => [e.file, e] as const))("%s", async (file, expected) => {
    const result = await outcome(file);
    if ("unsupported" in expected) {
      expect(result).toEqual({ unsupported: expect.any(String) });
    } else if ("code" in expected) {
      expect(result).toMatchObject({ code: expected.code, retryable: false });
    } else {
      expect(result).toHaveProperty("text");
      const text = (result as { text: string }).text;
      for (const snippet of expected.contains) expect(text).toContain(snippet);
      if (expected.excludes) expect(text).not.toMatch(expected.excludes);
      if (expected.pages) expect((result as { pages: number }).pages).toBe(expected.pages);
    }
  });
});

describe("image-only PDFs with OCR off (OCR_ENABLED=false; with it on see ocr.test.ts)", () => {
  it("ends the scanned linn.pdf NO_TEXT and says OCR is off", async () => {
    expect(await outcome("pdf/linn.pdf")).toMatchObject({ code: "NO_TEXT", message: expect.stringContaining("OCR_ENABLED=false"), retryable: false });
  });
});

describe("citations", () => {
  it("keeps PDF page numbers on every chunk", async () => {
    const result = await outcome("pdf/tracemonkey.pdf");
    const pages = (result as { chunks: Array<{ page: number }> }).chunks.map((c) => c.page);
    expect(pages[0]).toBe(1);
    expect(pages.at(-1)).toBe(14);
    expect([...pages].sort((a, b) => a - b)).toEqual(pages);
  });

  it("keeps Markdown heading paths", async () => {
    const result = await outcome("markdown/README.md");
    const headings = (result as { chunks: Array<{ heading: string | null }> }).chunks.map((c) => c.heading);
    expect(headings[0]).toBe("Mammoth .docx to HTML converter");
    expect(headings.filter((h) => h?.startsWith("Mammoth .docx to HTML converter > ")).length).toBeGreaterThan(3);
  });
});

describe("limits", () => {
  it("refuses a PDF over MAX_PAGES with DOCUMENT_TOO_LARGE", async () => {
    expect(await outcome("pdf/tracemonkey.pdf", { maxPages: 5 })).toMatchObject({ code: "DOCUMENT_TOO_LARGE" });
  });

  it("refuses a DOCX that would inflate past the decompressed-size limit", async () => {
    expect(await outcome("docx/track-changes-test.docx", { maxDecompressedBytes: 10_000 })).toMatchObject({ code: "DOCUMENT_TOO_LARGE" });
  });

  it("stops a parser that runs out of its heap with DOCUMENT_TOO_LARGE, and the process lives on", async () => {
    const err = await poolWith({ maxMemoryMb: 64 }, HOSTILE).parse(Buffer.from("x"), "hostile/oom", chunking).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DOCUMENT_TOO_LARGE", retryable: false });
    expect(process.memoryUsage().heapUsed).toBeLessThan(512 * 1024 * 1024);
  });

  it("stops a parser that blocks its event loop with PARSE_TIMEOUT", async () => {
    const started = Date.now();
    const err = await poolWith({ timeoutMs: 1_000 }, HOSTILE).parse(Buffer.from("x"), "hostile/spin", chunking).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "PARSE_TIMEOUT", retryable: false });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("reports a parser that dies without answering as DOCUMENT_CORRUPT", async () => {
    const err = await poolWith({}, HOSTILE).parse(Buffer.from("x"), "hostile/exit", chunking).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DOCUMENT_CORRUPT" });
  });

  it("replaces a thread that broke a limit and keeps serving with a fresh one", async () => {
    const hostile = poolWith({ timeoutMs: 1_000 }, HOSTILE);
    await expect(hostile.parse(Buffer.from("x"), "hostile/spin", chunking)).rejects.toMatchObject({ code: "PARSE_TIMEOUT" });
    const next = await hostile.parse(Buffer.from("x"), "text/plain", chunking);
    expect(next.chunks[0]!.text).toBe("fine");
  });

  it("reuses a warm thread for the next document", async () => {
    const warm = poolWith({});
    await warm.parse(corpusFile("text/NEWS"), "text/markdown", chunking);
    const second = await warm.parse(corpusFile("csv/utf-8-bom-sample.csv"), "text/csv", chunking);
    expect(second.chunks[0]!.text).toBe("A: X; B: Y; C: Z");
    expect(warm.threadsStarted).toBe(1);
  });
});
