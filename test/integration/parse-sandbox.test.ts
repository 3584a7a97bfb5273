import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors/app-error.ts";
import { detectType, SUPPORTED_MIME_TYPES } from "../../shared/parsing/detect-type.ts";
import { parseInSandbox, type SandboxLimits } from "../../shared/parsing/sandbox.ts";
import { CORPUS_EXPECTATIONS, corpusFile } from "../helpers/corpus.ts";

const limits: SandboxLimits = { timeoutMs: 60_000, maxMemoryMb: 1024, maxPages: 2000, maxDecompressedBytes: 200 * 1024 * 1024 };
const HOSTILE = new URL("../helpers/hostile-parse-thread.ts", import.meta.url);

async function outcome(file: string, overrides: Partial<SandboxLimits> = {}) {
  const bytes = corpusFile(file);
  const mime = await detectType(bytes, file);
  if (!SUPPORTED_MIME_TYPES.includes(mime)) return { unsupported: mime };
  try {
    const parsed = await parseInSandbox(bytes, mime, { ...limits, ...overrides });
    return { text: parsed.sections.map((s) => s.text).join("\n\n"), pages: parsed.pageCount, sections: parsed.sections };
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

describe("citations", () => {
  it("keeps PDF page numbers on every section", async () => {
    const result = await outcome("pdf/tracemonkey.pdf");
    const pages = (result as { sections: Array<{ page: number }> }).sections.map((s) => s.page);
    expect(pages[0]).toBe(1);
    expect(pages.at(-1)).toBe(14);
    expect([...pages].sort((a, b) => a - b)).toEqual(pages);
  });

  it("keeps Markdown heading paths", async () => {
    const result = await outcome("markdown/README.md");
    const headings = (result as { sections: Array<{ heading: string | null }> }).sections.map((s) => s.heading);
    expect(headings).toContain("Mammoth .docx to HTML converter > Installation");
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
    const err = await parseInSandbox(Buffer.from("x"), "hostile/oom", { ...limits, maxMemoryMb: 64 }, HOSTILE).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DOCUMENT_TOO_LARGE", retryable: false });
    expect(process.memoryUsage().heapUsed).toBeLessThan(512 * 1024 * 1024);
  });

  it("stops a parser that blocks its event loop with PARSE_TIMEOUT", async () => {
    const started = Date.now();
    const err = await parseInSandbox(Buffer.from("x"), "hostile/spin", { ...limits, timeoutMs: 1_000 }, HOSTILE).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "PARSE_TIMEOUT", retryable: false });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("reports a parser that dies without answering as DOCUMENT_CORRUPT", async () => {
    const err = await parseInSandbox(Buffer.from("x"), "hostile/exit", limits, HOSTILE).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "DOCUMENT_CORRUPT" });
  });
});
