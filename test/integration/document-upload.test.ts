import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { CORPUS_EXPECTATIONS, corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let stack: TestStack;
let client: ApiClient;

beforeAll(async () => {
  stack = await startTestStack({ workers: true, env: { WORKER_CONCURRENCY: "ingest=2,embed=4", EMBED_BATCH_SIZE: "32" } });
  client = apiClient(stack.url, TEST_KEYS.acme);
});
afterAll(async () => {
  await stack?.stop();
});

async function collection() {
  return (await client.post("/v1/collections", { name: `c-${Math.random().toString(36).slice(2)}` })).body.id as string;
}

const upload = (collectionId: string, file: string, fields: Record<string, string> = {}) =>
  uploadFile(stack.url, TEST_KEYS.acme, collectionId, { name: path.basename(file), content: corpusFile(file) }, fields);

async function settled(jobId: string) {
  return waitFor(async () => {
    const job = (await client.get(`/v1/jobs/${jobId}`)).body;
    return job.status === "succeeded" || job.status === "failed" ? job : undefined;
  }, 60_000, `job ${jobId}`);
}

describe("uploading the whole corpus through the API and the workers", () => {
  it("ends every file ready, failed with its code, or refused with 415", { timeout: 120_000 }, async () => {
    const id = await collection();
    const uploads = await Promise.all(CORPUS_EXPECTATIONS.map(async (e) => ({ e, res: await upload(id, e.file, { metadata: JSON.stringify({ file: e.file }) }) })));
    for (const { e, res } of uploads) {
      if ("unsupported" in e) {
        expect(res.status, e.file).toBe(415);
        expect(res.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
        continue;
      }
      expect(res.status, e.file).toBe(202);
      const job = await settled(res.body.job.id);
      const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
      if ("code" in e) {
        expect({ file: e.file, job: job.status, code: job.error?.code, doc: doc.status, docCode: doc.error?.code, attempts: job.attempts }).toEqual({
          file: e.file,
          job: "failed",
          code: e.code,
          doc: "failed",
          docCode: e.code,
          attempts: 1,
        });
      } else {
        expect({ file: e.file, job: job.status, doc: doc.status }).toEqual({ file: e.file, job: "succeeded", doc: "ready" });
        expect(doc.chunk_count).toBeGreaterThan(0);
        expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId: id }, doc.id)).toBe(doc.chunk_count);
        if ("pages" in e && e.pages) expect(doc.page_count).toBe(e.pages);
      }
    }
    // The worker lived through all of it and still answers.
    const later = await client.post(`/v1/collections/${id}/documents`, { text: "still alive after the corpus" });
    expect((await settled(later.body.job.id)).status).toBe("succeeded");
  });
});

/** Spreadsheets, legacy Word, slides, RTF, EPUB, images and scans, end to end: upload, ingest, search, citations. */
describe("every format of the business corpus through the API and the workers", () => {
  type Case = { file: string; code?: string; query?: string; cite?: Record<string, unknown>; ocr?: boolean };
  const cases: Case[] = [
    { file: "xlsx/2023-half-year-analyses-by-segment.xlsx", query: "Operating segments revenue", cite: { sheet: expect.stringMatching(/30 06/) } },
    { file: "xlsx/text_and_numbers.xlsx", query: "שלום", cite: { sheet: "Sheet1" } },
    { file: "xlsx/test.ods", query: "Demonstration DOCX support calibre", cite: { sheet: expect.any(String) } },
    { file: "xlsx/example_password.xlsx", code: "DOCUMENT_ENCRYPTED" },
    { file: "xlsx/test-issue-877.xlsx", code: "NO_TEXT" },
    { file: "doc/test05.doc", query: "simple file created with Word 97" },
    { file: "doc/test12.doc", query: "Row 2, cell 3" },
    { file: "doc/badfile-01-bad-header.doc", code: "DOCUMENT_CORRUPT" },
    { file: "pptx/sample-presentation.pptx", query: "sub-sub-bullet", cite: { slide: 2 } },
    { file: "pptx/test.pptx", query: "Slide Note 2 bold text", cite: { slide: expect.any(Number) } },
    { file: "rtf/eng_spa_mult.rtf", query: "dotados de razón y conciencia" },
    { file: "epub/winter-sports.epub", query: "Winter Sports in Switzerland Benson" },
    { file: "images/phototest.tif", query: "quick brown dog lazy fox", cite: { page: 1, ocr_confidence: expect.any(Number) }, ocr: true },
    { file: "images/bill.png", query: "Line of Credit", cite: { page: 1, ocr_confidence: expect.any(Number) }, ocr: true },
    { file: "pdf/linn.pdf", query: "LinnSequencer MIDI sequence recorder", cite: { page: 1, ocr_confidence: expect.any(Number) }, ocr: true },
  ];

  it("ends each file ready and findable with its citation, or failed with its code", { timeout: 180_000 }, async () => {
    const id = await collection();
    const uploads = await Promise.all(cases.map(async (c) => ({ c, res: await upload(id, c.file) })));
    for (const { c, res } of uploads) {
      expect(res.status, c.file).toBe(202);
      const job = await settled(res.body.job.id);
      const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
      if (c.code) {
        expect({ file: c.file, job: job.status, code: doc.error?.code, attempts: job.attempts }).toEqual({ file: c.file, job: "failed", code: c.code, attempts: 1 });
        continue;
      }
      expect({ file: c.file, status: doc.status, error: doc.error }).toEqual({ file: c.file, status: "ready", error: undefined });
      if (c.ocr) expect(doc.ocr, c.file).toMatchObject({ pages: [{ page: 1, confidence: expect.any(Number) }], languages: ["eng"] });
      else expect(doc.ocr, c.file).toBeUndefined();
      const hits = (await client.post(`/v1/collections/${id}/search`, { query: c.query, mode: "keyword", top_k: 5, filter: {} })).body.data as Array<Record<string, unknown>>;
      const mine = hits.filter((h) => h.document_id === doc.id);
      expect(mine.length, `${c.file}: "${c.query}" finds it`).toBeGreaterThan(0);
      if (c.cite) expect(mine[0], c.file).toMatchObject(c.cite);
    }
  });

  it("says which hidden sheets it skipped, on the document", async () => {
    const id = await collection();
    const res = await upload(id, "xlsx/test-issue-877.xlsx");
    await settled(res.body.job.id);
    const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
    expect(doc).toMatchObject({ status: "failed", error: { code: "NO_TEXT", message: expect.stringContaining("Ersatzteilliste") } });
  });
});

describe("documents from files", () => {
  it("detects the type from the bytes, keeps pages for citations, and counts progress to 100", async () => {
    const id = await collection();
    const res = await upload(id, "pdf/tracemonkey.pdf", { title: "TraceMonkey", metadata: JSON.stringify({ venue: "PLDI", year: 2009 }) });
    expect(res.status).toBe(202);
    expect(res.body.document).toMatchObject({ mime_type: "application/pdf", title: "TraceMonkey", size_bytes: corpusFile("pdf/tracemonkey.pdf").length });
    const job = await settled(res.body.job.id);
    expect(job).toMatchObject({ status: "succeeded", progress: 100, result: { page_count: 14 } });
    const search = await client.post(`/v1/collections/${id}/search`, { query: "trace trees nested loops", top_k: 3, filter: { year: { $gte: 2000 } } });
    expect(search.body.data).toHaveLength(3);
    for (const hit of search.body.data) {
      expect(hit.page).toBeGreaterThanOrEqual(1);
      expect(hit.page).toBeLessThanOrEqual(14);
      expect(hit).toMatchObject({ title: "TraceMonkey", metadata: { venue: "PLDI" } });
    }
  });

  it("a file named .txt that is really a PDF is treated as a PDF", async () => {
    const id = await collection();
    const res = await uploadFile(stack.url, TEST_KEYS.acme, id, { name: "notes.txt", content: corpusFile("pdf/xref_command_missing.pdf"), type: "text/plain" });
    expect(res.body.document.mime_type).toBe("application/pdf");
    expect((await settled(res.body.job.id)).status).toBe("succeeded");
  });

  it("takes the title from the document when none is given", async () => {
    const id = await collection();
    const res = await upload(id, "html/wikipedia/source.html");
    await settled(res.body.job.id);
    expect((await client.get(`/v1/documents/${res.body.document.id}`)).body.title).toMatch(/Mozilla/);
  });

  it("returns the existing document with 200 for the same bytes, whatever the file name", async () => {
    const id = await collection();
    const first = await upload(id, "docx/tables.docx");
    const again = await uploadFile(stack.url, TEST_KEYS.acme, id, { name: "renamed.docx", content: corpusFile("docx/tables.docx") });
    expect(again.status).toBe(200);
    expect(again.body.document.id).toBe(first.body.document.id);
  });

  it("refuses bytes of an unsupported type with 415 naming what was detected", async () => {
    const id = await collection();
    // A zip that is no Office document, named as a PDF.
    const res = await uploadFile(stack.url, TEST_KEYS.acme, id, { name: "report.pdf", content: corpusFile("docx/empty.zip") });
    expect(res.status).toBe(415);
    expect(res.body.error).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE", details: { detected_type: "application/zip" } });
  });

  it("validates the form: a file is required, metadata must be a JSON object", async () => {
    const id = await collection();
    const form = new FormData();
    form.append("title", "no file");
    const noFile = await fetch(`${stack.url}/v1/collections/${id}/documents`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEYS.acme}` }, body: form });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { error: { details: Array<{ field: string }> } }).error.details[0]!.field).toBe("file");
    const badMeta = await upload(id, "text/NEWS", { metadata: "{not json" });
    expect(badMeta.status).toBe(400);
    const arrayMeta = await upload(id, "text/NEWS", { metadata: "[1,2]" });
    expect(arrayMeta.status).toBe(400);
    expect(arrayMeta.body.error.code).toBe("VALIDATION_ERROR");
  });

  it("deletes a file's vectors and rows, and takes the same file again afterwards", async () => {
    const id = await collection();
    const res = await upload(id, "docx/footnotes.docx");
    await settled(res.body.job.id);
    const del = await client.delete(`/v1/documents/${res.body.document.id}`);
    expect((await settled(del.body.job.id)).status).toBe("succeeded");
    expect(await stack.deps.vectorStore.count({ tenantId: "acme", collectionId: id })).toBe(0);
    const again = await upload(id, "docx/footnotes.docx");
    expect(again.status).toBe(202);
    expect((await settled(again.body.job.id)).status).toBe("succeeded");
  });
});
