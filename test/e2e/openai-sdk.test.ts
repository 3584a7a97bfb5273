import { randomBytes } from "node:crypto";
import OpenAI, { AuthenticationError, BadRequestError, NotFoundError, toFile, type APIError } from "openai";
import type { VectorStoreSearchParams } from "openai/resources/vector-stores/vector-stores";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpusFile } from "../helpers/corpus.ts";
import { startApiAndWorker, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, type TestEnv } from "../helpers/test-env.ts";

/**
 * The official `openai` SDK, unchanged, against an api and a worker spawned as processes: the
 * Files and Vector Stores APIs end to end (uploads, parsing, polling, attributes and filters,
 * pagination, cancellation, tenancy, typed errors, deletion).
 */

const POLL = { pollIntervalMs: 200 };
const TRACEMONKEY = corpusFile("pdf/tracemonkey.pdf");
const FREECULTURE = corpusFile("pdf/freeculture.pdf");
const MIXED = [
  { name: "tables.docx", bytes: corpusFile("docx/tables.docx") },
  { name: "sample.csv", bytes: corpusFile("csv/long-sample-with-errors.csv") },
  { name: "mozilla.html", bytes: corpusFile("html/wikipedia/source.html") },
  { name: "README.md", bytes: corpusFile("markdown/README.md") },
  { name: "NEWS", bytes: corpusFile("text/NEWS") },
] as const;

let env: TestEnv;
let stack: { api: QuarryProcess; worker: QuarryProcess; url: string; stop(): Promise<void> };
let acme: OpenAI;
let globex: OpenAI;

const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${stack.url}/v1`, maxRetries: 0, timeout: 30_000 });

/** A raw request with acme's key (for what the SDK does not expose: `before`, `search_query`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${stack.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TEST_KEYS.acme}`, ...(init.body ? { "content-type": "application/json" } : {}), ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** The error a call rejects with, checked to be of `kind` and to carry OpenAI's error body. */
async function rejection<E extends APIError>(call: PromiseLike<unknown>, kind: abstract new (...args: never[]) => E): Promise<E> {
  let error: unknown;
  try {
    await call;
  } catch (err) {
    error = err;
  }
  expect(error, "the call should have failed").toBeInstanceOf(kind);
  const e = error as E;
  expect(typeof e.error).toBe("object");
  const body = e.error as { message: unknown; type: unknown; code: unknown; param: unknown };
  expect(typeof body.message).toBe("string");
  expect(typeof body.type).toBe("string");
  expect(typeof body.code).toBe("string");
  expect(body.param === null || typeof body.param === "string").toBe(true);
  expect(e.type).toBe(body.type);
  expect(e.code).toBe(body.code);
  return e;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const ids = (items: Array<{ id: string }>) => items.map((i) => i.id);

async function search(storeId: string, params: VectorStoreSearchParams) {
  return (await acme.vectorStores.search(storeId, params)).data;
}

// What the tests share, filled as they go (they run in order).
const shared = {
  papers: "",
  trace: "",
  mixed: "",
  batch: "",
  mixedFiles: {} as Record<(typeof MIXED)[number]["name"], string>,
  chunks: {} as Record<string, number>,
};

beforeAll(async () => {
  env = createTestEnv({ LOG_LEVEL: "info", VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0" });
  stack = await startApiAndWorker(env.env);
  acme = client(TEST_KEYS.acme);
  globex = client(TEST_KEYS.globex);
}, 60_000);

afterAll(async () => {
  await stack?.api.stop("SIGKILL");
  await stack?.worker.stop("SIGKILL");
  await env?.cleanup();
});

describe("the openai SDK against Quarry's processes", () => {
  it("creates a vector store and uploadAndPoll's a PDF into it", { timeout: 60_000 }, async () => {
    const created = await acme.vectorStores.create({
      name: "papers",
      description: "research papers",
      metadata: { project: "quarry", owner: "e2e" },
      expires_after: { anchor: "last_active_at", days: 7 },
    });
    expect(created).toMatchObject({
      object: "vector_store",
      name: "papers",
      metadata: { project: "quarry", owner: "e2e" },
      expires_after: { anchor: "last_active_at", days: 7 },
      status: "completed",
      usage_bytes: 0,
      file_counts: { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 },
    });
    expect(created.id).toMatch(/^vs_/);
    expect(created.expires_at).toBe(created.last_active_at! + 7 * 86_400);
    shared.papers = created.id;

    const file = await acme.vectorStores.files.uploadAndPoll(created.id, await toFile(TRACEMONKEY, "tracemonkey.pdf"), POLL);
    expect(file).toMatchObject({ object: "vector_store.file", vector_store_id: created.id, status: "completed", last_error: null, usage_bytes: TRACEMONKEY.length });
    expect(file.id).toMatch(/^file-/);
    expect(file.chunking_strategy).toMatchObject({ type: "static" });
    shared.trace = file.id;

    const store = await acme.vectorStores.retrieve(created.id);
    expect(store.usage_bytes).toBeGreaterThan(0);
    expect(store.file_counts).toEqual({ in_progress: 0, completed: 1, failed: 0, cancelled: 0, total: 1 });
    expect(store.status).toBe("completed");

    const renamed = await acme.vectorStores.update(created.id, { name: "papers", metadata: { project: "quarry", owner: "e2e", v: "2" }, expires_after: null });
    expect(renamed).toMatchObject({ id: created.id, metadata: { project: "quarry", owner: "e2e", v: "2" }, expires_after: null, expires_at: null });
    expect(await acme.vectorStores.retrieve(created.id)).toMatchObject({ metadata: { v: "2" }, expires_after: null });

    const uploaded = await acme.files.retrieve(file.id);
    expect(uploaded).toMatchObject({ id: file.id, object: "file", bytes: TRACEMONKEY.length, filename: "tracemonkey.pdf", purpose: "assistants", status: "processed" });
  });

  it("uploads five mixed files as one batch, and lists the batch's files", { timeout: 60_000 }, async () => {
    const store = await acme.vectorStores.create({ name: "mixed" });
    shared.mixed = store.id;
    const batch = await acme.vectorStores.fileBatches.uploadAndPoll(store.id, { files: await Promise.all(MIXED.map((f) => toFile(f.bytes, f.name))) }, POLL);
    expect(batch).toMatchObject({ object: "vector_store.files_batch", vector_store_id: store.id, status: "completed" });
    expect(batch.file_counts).toEqual({ in_progress: 0, completed: 5, failed: 0, cancelled: 0, total: 5 });
    shared.batch = batch.id;

    const listed = await collect(acme.vectorStores.fileBatches.listFiles(batch.id, { vector_store_id: store.id }));
    expect(listed).toHaveLength(5);
    for (const f of listed) expect(f).toMatchObject({ status: "completed", vector_store_id: store.id, last_error: null });
    const names = await Promise.all(listed.map(async (f) => [(await acme.files.retrieve(f.id)).filename, f.id] as const));
    expect(names.map(([n]) => n).sort()).toEqual(MIXED.map((f) => f.name).sort());
    shared.mixedFiles = Object.fromEntries(names) as typeof shared.mixedFiles;
    expect(ids(await collect(acme.vectorStores.files.list(store.id))).sort()).toEqual(ids(listed).sort());
    expect((await acme.vectorStores.retrieve(store.id)).usage_bytes).toBe(MIXED.reduce((sum, f) => sum + f.bytes.length, 0));

    // Chunks per file, for the searches below: a filter's matches must all fit in one page.
    for (const [name, id] of Object.entries(shared.mixedFiles)) {
      shared.chunks[name] = (await acme.vectorStores.files.content(id, { vector_store_id: store.id })).data.length;
      expect(shared.chunks[name], name).toBeGreaterThan(0);
    }
  });

  it("filters searches by attributes (comparison and compound filters), with the result's fields", { timeout: 30_000 }, async () => {
    const f = shared.mixedFiles;
    const set = async (name: keyof typeof f, attributes: Record<string, string | number | boolean>) => {
      const updated = await acme.vectorStores.files.update(f[name], { vector_store_id: shared.mixed, attributes });
      expect(updated.attributes).toEqual(attributes);
    };
    await set("tables.docx", { team: "a", year: 2021 });
    await set("sample.csv", { team: "a", year: 2019 });
    await set("mozilla.html", { team: "b", year: 2022 });
    await set("README.md", { team: "c", year: 2020, draft: true });
    // NEWS has none.
    expect((await acme.vectorStores.files.retrieve(f["README.md"], { vector_store_id: shared.mixed })).attributes).toEqual({ team: "c", year: 2020, draft: true });

    const attributesOf: Record<string, Record<string, unknown>> = {
      [f["tables.docx"]]: { team: "a", year: 2021 },
      [f["sample.csv"]]: { team: "a", year: 2019 },
      [f["mozilla.html"]]: { team: "b", year: 2022 },
      [f["README.md"]]: { team: "c", year: 2020, draft: true },
    };
    const nameOf = Object.fromEntries(Object.entries(f).map(([name, id]) => [id, name]));
    /** Searches with a filter and checks the hits are every chunk of exactly `expected` files. */
    const expectFiles = async (filters: VectorStoreSearchParams["filters"], expected: Array<keyof typeof f>, query = "Mozilla table news release") => {
      const total = expected.reduce((sum, name) => sum + shared.chunks[name]!, 0);
      expect(total, "the matching files' chunks fit in one page").toBeLessThanOrEqual(50);
      const hits = await search(shared.mixed, { query, filters, max_num_results: 50 });
      expect(new Set(hits.map((h) => h.file_id)), JSON.stringify(filters)).toEqual(new Set(expected.map((name) => f[name])));
      expect(hits).toHaveLength(total);
      for (const hit of hits) {
        expect(hit.filename).toBe(nameOf[hit.file_id]);
        expect(hit.score).toBeGreaterThanOrEqual(0);
        expect(hit.score).toBeLessThanOrEqual(1);
        expect(hit.content[0]!.type).toBe("text");
        expect(hit.content[0]!.text.length).toBeGreaterThan(0);
        expect(hit.attributes).toEqual(attributesOf[hit.file_id]);
      }
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
      return hits;
    };

    await expectFiles({ type: "and", filters: [{ type: "eq", key: "team", value: "a" }, { type: "gte", key: "year", value: 2020 }] }, ["tables.docx"]);
    await expectFiles(
      { type: "or", filters: [{ type: "in", key: "team", value: ["b"] }, { type: "and", filters: [{ type: "nin", key: "team", value: ["a", "b"] }, { type: "eq", key: "draft", value: true }] }] },
      ["mozilla.html", "README.md"],
    );
    await expectFiles({ type: "or", filters: [{ type: "lt", key: "year", value: 2020 }, { type: "eq", key: "team", value: "c" }] }, ["sample.csv", "README.md"]);
    // A file without the key matches neither ne nor nin.
    await expectFiles({ type: "ne", key: "team", value: "a" }, ["mozilla.html", "README.md"]);
    await expectFiles({ type: "nin", key: "year", value: [2019, 2021] }, ["mozilla.html", "README.md"]);
    await expectFiles({ type: "lte", key: "year", value: 2019 }, ["sample.csv"]);
    await expectFiles({ type: "gt", key: "team", value: "a" }, ["mozilla.html", "README.md"]);
    await expectFiles({ type: "eq", key: "team", value: "z" }, []);
    await expectFiles({ type: "eq", key: "year", value: "2021" }, []); // a string is not the number

    // An update replaces the attributes, and the next search sees it.
    await set("sample.csv", { team: "a", year: 2023 });
    attributesOf[f["sample.csv"]] = { team: "a", year: 2023 };
    await expectFiles({ type: "and", filters: [{ type: "eq", key: "team", value: "a" }, { type: "gte", key: "year", value: 2020 }] }, ["tables.docx", "sample.csv"]);
  });

  it("honours score_threshold and max_num_results, and searches several queries at once", { timeout: 30_000 }, async () => {
    const all = await search(shared.mixed, { query: "Mozilla Firefox browser", max_num_results: 50 });
    expect(all.length).toBeGreaterThan(4);
    const scores = all.map((h) => h.score);
    const threshold = scores[Math.floor(scores.length / 2)]!;
    expect(threshold).toBeGreaterThan(0);
    const above = await search(shared.mixed, { query: "Mozilla Firefox browser", max_num_results: 50, ranking_options: { score_threshold: threshold } });
    expect(above.length).toBe(scores.filter((s) => s >= threshold).length);
    expect(above.length).toBeLessThan(all.length);
    for (const hit of above) expect(hit.score).toBeGreaterThanOrEqual(threshold);
    expect((await search(shared.mixed, { query: "Mozilla Firefox browser", ranking_options: { score_threshold: 1 } })).every((h) => h.score === 1)).toBe(true);

    const two = await search(shared.mixed, { query: "Mozilla Firefox browser", max_num_results: 2 });
    expect(two.map((h) => [h.file_id, h.content[0]!.text])).toEqual(all.slice(0, 2).map((h) => [h.file_id, h.content[0]!.text]));
    expect(await search(shared.mixed, { query: "Mozilla" })).toHaveLength(10); // OpenAI's default

    // Several queries: each chunk keeps its best score over them.
    const f = shared.mixedFiles;
    const filters = { type: "in" as const, key: "team", value: ["a", "c"] };
    const key = (h: { file_id: string; content: Array<{ text: string }> }) => `${h.file_id}\n${h.content[0]!.text}`;
    const first = await search(shared.mixed, { query: "Top left table", filters, max_num_results: 50 });
    const second = await search(shared.mixed, { query: "docx conversion mammoth", filters, max_num_results: 50 });
    const both = await search(shared.mixed, { query: ["Top left table", "docx conversion mammoth"], filters, max_num_results: 50 });
    expect(new Set(both.map((h) => h.file_id))).toEqual(new Set([f["tables.docx"], f["sample.csv"], f["README.md"]]));
    const best = new Map<string, number>();
    for (const h of [...first, ...second]) best.set(key(h), Math.max(best.get(key(h)) ?? 0, h.score));
    expect(both).toHaveLength(best.size);
    for (const h of both) expect(h.score).toBeCloseTo(best.get(key(h))!, 6);
    const echoed = await raw(`/v1/vector_stores/${shared.mixed}/search`, { method: "POST", body: JSON.stringify({ query: ["one", "two"], max_num_results: 1 }) });
    expect(echoed.status).toBe(200);
    expect(echoed.body).toMatchObject({ object: "vector_store.search_results.page", search_query: ["one", "two"], has_more: false, next_page: null });
  });

  it("returns a vector store file's parsed text and a file's exact bytes", async () => {
    const pages = (await acme.vectorStores.files.content(shared.trace, { vector_store_id: shared.papers })).data;
    expect(pages.length).toBeGreaterThan(3);
    for (const page of pages) expect(page.type).toBe("text");
    expect(pages.map((p) => p.text).join("\n")).toContain("Trace-based Just-in-Time Type Specialization");
    const news = (await acme.vectorStores.files.content(shared.mixedFiles.NEWS, { vector_store_id: shared.mixed })).data;
    expect(news.map((p) => p.text).join("\n")).toContain("Support links and images in footnotes and endnotes.");

    const pdf = await acme.files.content(shared.trace);
    expect(Buffer.from(await pdf.arrayBuffer()).equals(TRACEMONKEY)).toBe(true);
    for (const { name, bytes } of MIXED) {
      const res = await acme.files.content(shared.mixedFiles[name]);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes), name).toBe(true);
    }
  });

  it("fails broken and unsupported files with OpenAI's codes, and the worker carries on", { timeout: 60_000 }, async () => {
    const store = await acme.vectorStores.create({ name: "broken" });
    const truncated = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(TRACEMONKEY.subarray(0, 2048), "truncated.pdf"), POLL);
    expect(truncated.status).toBe("failed");
    expect(truncated.last_error?.code).toBe("invalid_file");
    expect(truncated.last_error?.message).toMatch(/^(DOCUMENT_|PDF_|NO_TEXT)[A-Z_]*: ./);

    const corrupt = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(corpusFile("pdf/bug1020226.pdf"), "corrupt.pdf"), POLL);
    expect(corrupt).toMatchObject({ status: "failed", last_error: { code: "invalid_file" } });
    expect(corrupt.last_error?.message).toMatch(/^DOCUMENT_CORRUPT: ./);

    const encrypted = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(corpusFile("pdf/issue3371.pdf"), "encrypted.pdf"), POLL);
    expect(encrypted).toMatchObject({ status: "failed", last_error: { code: "invalid_file" } });
    expect(encrypted.last_error?.message).toMatch(/^PDF_ENCRYPTED: ./);

    const binary = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(randomBytes(4096), "blob.bin"), POLL);
    expect(binary).toMatchObject({ status: "failed", last_error: { code: "unsupported_file" }, usage_bytes: 0 });
    expect(binary.last_error?.message).toMatch(/^UNSUPPORTED_MEDIA_TYPE: ./);
    const zip = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(corpusFile("docx/empty.zip"), "empty.docx"), POLL);
    expect(zip).toMatchObject({ status: "failed", last_error: { code: "unsupported_file" } });

    // A batch whose files all fail ends failed (a state the SDK's poller stops at).
    const failedBatch = await acme.vectorStores.fileBatches.uploadAndPoll(
      store.id,
      { files: [await toFile(randomBytes(1024), "one.bin"), await toFile(TRACEMONKEY.subarray(0, 1024), "two.pdf")] },
      POLL,
    );
    expect(failedBatch).toMatchObject({ status: "failed", file_counts: { in_progress: 0, completed: 0, failed: 2, cancelled: 0, total: 2 } });

    // A failed file has no text; its bytes are still there.
    expect((await acme.vectorStores.files.content(truncated.id, { vector_store_id: store.id })).data).toEqual([]);
    expect(Buffer.from(await (await acme.files.content(truncated.id)).arrayBuffer()).equals(TRACEMONKEY.subarray(0, 2048))).toBe(true);

    expect(stack.worker.child.exitCode).toBeNull();
    expect(stack.worker.child.signalCode).toBeNull();
    const after = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(Buffer.from("The worker is still alive after the broken files.\n"), "after.txt"), POLL);
    expect(after).toMatchObject({ status: "completed", last_error: null });
    const counts = await acme.vectorStores.retrieve(store.id);
    expect(counts.file_counts).toEqual({ in_progress: 0, completed: 1, failed: 7, cancelled: 0, total: 8 });
    expect(counts.usage_bytes).toBe(after.usage_bytes);
    const failed = await collect(acme.vectorStores.files.list(store.id, { filter: "failed" }));
    expect(ids(failed)).toEqual(expect.arrayContaining([truncated.id, corrupt.id, encrypted.id, binary.id, zip.id]));
    expect(failed).toHaveLength(7);
    expect(ids(await collect(acme.vectorStores.files.list(store.id, { filter: "completed" })))).toEqual([after.id]);
  });

  it("cancels a batch of large files: the batch ends cancelled, its files cancelled or completed", { timeout: 90_000 }, async () => {
    const store = await acme.vectorStores.create({ name: "cancel" });
    const files = await Promise.all([0, 1, 2, 3].map(async (i) => acme.files.create({ file: await toFile(FREECULTURE, `freeculture-${i}.pdf`), purpose: "assistants" })));
    expect(new Set(ids(files)).size).toBe(4);
    const { data: created, response } = await acme.vectorStores.fileBatches.create(store.id, { file_ids: ids(files) }).withResponse();
    expect(created.status).toBe("in_progress");
    expect(response.headers.get("openai-poll-after-ms")).toBe("500");
    const cancelling = await acme.vectorStores.fileBatches.cancel(created.id, { vector_store_id: store.id });
    expect(["in_progress", "cancelled"]).toContain(cancelling.status);

    const started = Date.now();
    const batch = await acme.vectorStores.fileBatches.poll(store.id, created.id, POLL);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(batch.status).toBe("cancelled");
    expect(batch.file_counts.in_progress).toBe(0);
    expect(batch.file_counts.cancelled).toBeGreaterThanOrEqual(1);
    expect(batch.file_counts.cancelled + batch.file_counts.completed).toBe(4);
    const listed = await collect(acme.vectorStores.fileBatches.listFiles(created.id, { vector_store_id: store.id }));
    expect(ids(listed).sort()).toEqual(ids(files).sort());
    for (const f of listed) expect(["cancelled", "completed"]).toContain(f.status);
    expect(listed.filter((f) => f.status === "cancelled")).toHaveLength(batch.file_counts.cancelled);
    expect((await acme.vectorStores.retrieve(store.id)).file_counts.in_progress).toBe(0);
    // Cancelling again changes nothing.
    expect(await acme.vectorStores.fileBatches.cancel(created.id, { vector_store_id: store.id })).toMatchObject({ status: "cancelled", file_counts: batch.file_counts });
    expect(stack.worker.child.exitCode).toBeNull();
  });

  it("keeps a file out of search until it is completed, and deletes files and stores mid-ingest", { timeout: 90_000 }, async () => {
    const store = await acme.vectorStores.create({ name: "mid-ingest" });
    const inStore = async (storeId: string) => ids(await collect(acme.vectorStores.files.list(storeId)));
    const first = await acme.vectorStores.files.upload(store.id, await toFile(FREECULTURE, "free-1.pdf"));
    expect(first.status).toBe("in_progress");
    // While it is ingested, none of its chunks are found.
    for (let i = 0; i < 6; i++) {
      const state = await acme.vectorStores.files.retrieve(first.id, { vector_store_id: store.id });
      const hits = await search(store.id, { query: "Free Culture Lawrence Lessig", max_num_results: 50 });
      if (state.status !== "in_progress") break;
      expect(hits.filter((h) => h.file_id === first.id), `poll ${i}`).toEqual([]);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Removed from its store mid-ingest.
    expect((await acme.vectorStores.files.delete(first.id, { vector_store_id: store.id })).deleted).toBe(true);
    expect(await inStore(store.id)).toEqual([]);
    // Deleted as a file mid-ingest.
    const second = await acme.vectorStores.files.upload(store.id, await toFile(FREECULTURE, "free-2.pdf"));
    await new Promise((r) => setTimeout(r, 500));
    expect((await acme.files.delete(second.id)).deleted).toBe(true);
    expect(await inStore(store.id)).toEqual([]);
    // A store deleted mid-ingest.
    const doomed = await acme.vectorStores.create({ name: "doomed" });
    await acme.vectorStores.files.create(doomed.id, { file_id: first.id });
    await new Promise((r) => setTimeout(r, 500));
    expect((await acme.vectorStores.delete(doomed.id)).deleted).toBe(true);
    await rejection(acme.vectorStores.retrieve(doomed.id), NotFoundError);

    // The worker goes on with the next file, and nothing of the removed ones is found.
    const small = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(Buffer.from("A small file after the removals: culture notes."), "small.txt"), POLL);
    expect(small.status).toBe("completed");
    expect(stack.worker.child.exitCode).toBeNull();
    expect(await inStore(store.id)).toEqual([small.id]);
    expect((await acme.vectorStores.retrieve(store.id)).file_counts).toEqual({ in_progress: 0, completed: 1, failed: 0, cancelled: 0, total: 1 });
    expect(new Set((await search(store.id, { query: "Free Culture Lawrence Lessig culture", max_num_results: 50 })).map((h) => h.file_id))).toEqual(new Set([small.id]));
    // The file removed from the store still exists, and can be attached again.
    expect((await acme.files.retrieve(first.id)).filename).toBe("free-1.pdf");
    await rejection(acme.files.retrieve(second.id), NotFoundError);
  });

  it("paces the SDK's polling with openai-poll-after-ms while a file is in progress", { timeout: 60_000 }, async () => {
    const uploaded = await acme.files.create({ file: await toFile(TRACEMONKEY, "trace-copy.pdf"), purpose: "assistants" });
    const { data: attached, response } = await acme.vectorStores.files.create(shared.papers, { file_id: uploaded.id, attributes: { copy: true } }).withResponse();
    expect(attached).toMatchObject({ status: "in_progress", attributes: { copy: true } });
    expect(response.headers.get("openai-poll-after-ms")).toBe("500");
    const again = await acme.vectorStores.files.retrieve(uploaded.id, { vector_store_id: shared.papers }).withResponse();
    expect(again.response.headers.get("openai-poll-after-ms")).toBe(again.data.status === "in_progress" ? "500" : null);
    // No pollIntervalMs: the SDK waits what the header says (its default is 5 s).
    // Attributes changed while the file is being ingested are the ones it ends with, in search too.
    const changed = await acme.vectorStores.files.update(uploaded.id, { vector_store_id: shared.papers, attributes: { copy: false, v: 2 } });
    expect(changed.attributes).toEqual({ copy: false, v: 2 });
    const done = await acme.vectorStores.files.poll(shared.papers, uploaded.id);
    expect(done).toMatchObject({ status: "completed", attributes: { copy: false, v: 2 } });
    const hits = await search(shared.papers, { query: "trace compilation", filters: { type: "eq", key: "v", value: 2 }, max_num_results: 50 });
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) expect(hit).toMatchObject({ file_id: uploaded.id, filename: "trace-copy.pdf", attributes: { copy: false, v: 2 } });
    const unfiltered = await search(shared.papers, { query: "trace compilation", max_num_results: 50 });
    for (const hit of unfiltered) expect(hit.attributes).toEqual(hit.file_id === uploaded.id ? { copy: false, v: 2 } : {});
    const finished = await acme.vectorStores.files.retrieve(uploaded.id, { vector_store_id: shared.papers }).withResponse();
    expect(finished.response.headers.get("openai-poll-after-ms")).toBeNull();
    const store = await acme.vectorStores.retrieve(shared.papers);
    expect(store.file_counts).toMatchObject({ completed: 2, total: 2 });
  });

  it("creates a batch from `files` with per-file attributes and chunking, and a store from file_ids", { timeout: 60_000 }, async () => {
    const a = await acme.files.create({ file: await toFile(Buffer.from("Quinces ripen in late autumn. ".repeat(200)), "quince.txt"), purpose: "assistants" });
    const b = await acme.files.create({ file: await toFile(Buffer.from("Medlars are eaten bletted. ".repeat(200)), "medlar.txt"), purpose: "user_data" });
    const store = await acme.vectorStores.create({ name: "fruit" });
    const batch = await acme.vectorStores.fileBatches.createAndPoll(
      store.id,
      {
        files: [{ file_id: a.id, attributes: { fruit: "quince" }, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 } } }, { file_id: b.id }],
        attributes: { fruit: "other", shared: true },
      },
      POLL,
    );
    expect(batch).toMatchObject({ status: "completed", file_counts: { completed: 2, total: 2 } });
    const fa = await acme.vectorStores.files.retrieve(a.id, { vector_store_id: store.id });
    const fb = await acme.vectorStores.files.retrieve(b.id, { vector_store_id: store.id });
    expect(fa).toMatchObject({ attributes: { fruit: "quince" }, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 } } });
    expect(fb.attributes).toEqual({ fruit: "other", shared: true });
    const smallChunks = (await acme.vectorStores.files.content(a.id, { vector_store_id: store.id })).data.length;
    const defaultChunks = (await acme.vectorStores.files.content(b.id, { vector_store_id: store.id })).data.length;
    expect(smallChunks).toBeGreaterThan(defaultChunks);
    const hits = await search(store.id, { query: "quinces", filters: { type: "eq", key: "shared", value: true }, max_num_results: 50 });
    expect(new Set(hits.map((h) => h.file_id))).toEqual(new Set([b.id]));

    // A store created with file_ids attaches them (the same file may be in several stores).
    const second = await acme.vectorStores.create({ name: "fruit-2", file_ids: [a.id, b.id, a.id] });
    expect(second.file_counts.total).toBe(2);
    const polled = await Promise.all([a.id, b.id].map((id) => acme.vectorStores.files.poll(second.id, id, POLL)));
    expect(polled.map((f) => f.status)).toEqual(["completed", "completed"]);
    expect((await acme.vectorStores.retrieve(second.id)).file_counts).toMatchObject({ completed: 2, total: 2 });
    // Attaching an attached file again answers it (no duplicate).
    expect((await acme.vectorStores.files.create(second.id, { file_id: a.id })).id).toBe(a.id);
    expect((await acme.vectorStores.retrieve(second.id)).file_counts.total).toBe(2);
    // Removing it from one store leaves it in the other.
    await acme.vectorStores.files.delete(a.id, { vector_store_id: store.id });
    expect(ids(await collect(acme.vectorStores.files.list(store.id)))).toEqual([b.id]);
    expect(new Set((await search(second.id, { query: "quinces ripen", max_num_results: 50 })).map((h) => h.file_id))).toContain(a.id);
    expect(new Set((await search(store.id, { query: "quinces ripen", max_num_results: 50 })).map((h) => h.file_id))).not.toContain(a.id);
    expect((await acme.vectorStores.files.retrieve(a.id, { vector_store_id: second.id })).status).toBe("completed");
    // The files list filters by purpose.
    expect(ids(await collect(acme.files.list({ purpose: "user_data" })))).toEqual([b.id]);
  });

  it("expires stores after their days of inactivity and files after their seconds", { timeout: 30_000 }, async () => {
    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      const store = await acme.vectorStores.create({ name: "ephemeral", expires_after: { anchor: "last_active_at", days: 1 } });
      const file = await acme.vectorStores.files.uploadAndPoll(store.id, await toFile(Buffer.from("Ephemeral notes about persimmons."), "notes.txt"), POLL);
      expect(file.status).toBe("completed");
      expect((await search(store.id, { query: "persimmons" })).length).toBeGreaterThan(0);
      await db.query(`UPDATE vector_stores SET last_active_at = now() - interval '2 days' WHERE id = $1`, [store.id]);
      const expired = await acme.vectorStores.retrieve(store.id);
      expect(expired.status).toBe("expired");
      expect(expired.expires_at!).toBeLessThan(Date.now() / 1000);
      expect((await acme.vectorStores.list({ limit: 100 })).data.find((s) => s.id === store.id)?.status).toBe("expired");
      // An expired store is read-only: no search, no new files; reading it does not revive it.
      const refused = await rejection(acme.vectorStores.search(store.id, { query: "persimmons" }), BadRequestError);
      expect(refused.code).toBe("vector_store_expired");
      const other = await acme.files.create({ file: await toFile(Buffer.from("more"), "more.txt"), purpose: "assistants" });
      await rejection(acme.vectorStores.files.create(store.id, { file_id: other.id }), BadRequestError);
      await rejection(acme.vectorStores.fileBatches.create(store.id, { file_ids: [other.id] }), BadRequestError);
      expect((await acme.vectorStores.retrieve(store.id)).status).toBe("expired");
      expect((await acme.vectorStores.files.retrieve(file.id, { vector_store_id: store.id })).status).toBe("completed");
      // A new expiry counts from now.
      const revived = await acme.vectorStores.update(store.id, { expires_after: { anchor: "last_active_at", days: 30 } });
      expect(revived.status).toBe("completed");
      expect((await search(store.id, { query: "persimmons" })).length).toBeGreaterThan(0);

      // A file with expires_after is gone for every reader once it has passed.
      const short = await acme.files.create({ file: await toFile(Buffer.from("short-lived"), "short.txt"), purpose: "assistants", expires_after: { anchor: "created_at", seconds: 3600 } });
      expect(short.expires_at).toBe(short.created_at + 3600);
      await rejection(
        acme.files.create({ file: await toFile(Buffer.from("x"), "x.txt"), purpose: "assistants", expires_after: { anchor: "created_at", seconds: 60 } }),
        BadRequestError,
      );
      await db.query(`UPDATE files SET expires_at = now() - interval '1 second' WHERE id = $1`, [short.id]);
      await rejection(acme.files.retrieve(short.id), NotFoundError);
      await rejection(acme.files.content(short.id), NotFoundError);
      await rejection(acme.vectorStores.files.create(store.id, { file_id: short.id }), NotFoundError);
      expect(ids(await collect(acme.files.list()))).not.toContain(short.id);
    } finally {
      await db.end();
    }
  });

  it("paginates files, vector stores and vector store files in both orders, with after and before", { timeout: 30_000 }, async () => {
    for (let i = 0; i < 3; i++) await acme.vectorStores.create({ name: `page-${i}` });

    const checkOrders = async <T extends { id: string; created_at: number }>(
      name: string,
      list: (query: { limit?: number; order?: "asc" | "desc" }) => AsyncIterable<T> & PromiseLike<{ data: T[]; has_more: boolean }>,
      min: number,
    ) => {
      const desc = (await list({ limit: 100, order: "desc" })).data;
      expect(desc.length, name).toBeGreaterThanOrEqual(min);
      for (let i = 1; i < desc.length; i++) expect(desc[i - 1]!.created_at, name).toBeGreaterThanOrEqual(desc[i]!.created_at);
      const asc = (await list({ limit: 100, order: "asc" })).data;
      expect(ids(asc), name).toEqual(ids(desc).reverse());
      const firstPage = await list({ limit: 2 });
      expect(firstPage.data, name).toHaveLength(2);
      expect(firstPage.has_more, name).toBe(true);
      expect(ids(await collect(list({ limit: 2 }))), name).toEqual(ids(desc));
      expect(ids(await collect(list({ limit: 2, order: "asc" }))), name).toEqual(ids(asc));
      expect(ids(await collect(list({ limit: 1, order: "desc" }))), name).toEqual(ids(desc));
      return desc;
    };

    const files = await checkOrders("files", (q) => acme.files.list(q), 10);
    const stores = await checkOrders("vector stores", (q) => acme.vectorStores.list(q), 6);
    const storeFiles = await checkOrders("vector store files", (q) => acme.vectorStores.files.list(shared.mixed, q), 5);
    expect(ids(files)).toEqual(expect.arrayContaining([shared.trace, ...Object.values(shared.mixedFiles)]));
    expect(ids(stores)).toEqual(expect.arrayContaining([shared.papers, shared.mixed]));

    // `before` gives the page that precedes an object, in list order.
    for (const [path, desc] of [
      ["/v1/vector_stores", stores],
      [`/v1/vector_stores/${shared.mixed}/files`, storeFiles],
    ] as const) {
      const before = await raw(`${path}?limit=2&before=${desc[3]!.id}`);
      expect(before.status, path).toBe(200);
      expect(ids(before.body.data), path).toEqual(ids(desc.slice(1, 3)));
      expect(before.body, path).toMatchObject({ object: "list", first_id: desc[1]!.id, last_id: desc[2]!.id, has_more: true });
      const asc = [...desc].reverse();
      const beforeAsc = await raw(`${path}?limit=2&order=asc&before=${asc[3]!.id}`);
      expect(ids(beforeAsc.body.data), path).toEqual(ids(asc.slice(1, 3)));
      const atStart = await raw(`${path}?limit=5&before=${desc[1]!.id}`);
      expect(ids(atStart.body.data), path).toEqual([desc[0]!.id]);
      expect(atStart.body.has_more, path).toBe(false);
      const after = await raw(`${path}?limit=2&after=${desc[1]!.id}`);
      expect(ids(after.body.data), path).toEqual(ids(desc.slice(2, 4)));
    }
    // The batch's files page too.
    expect(ids(await collect(acme.vectorStores.fileBatches.listFiles(shared.batch, { vector_store_id: shared.mixed, limit: 2 }))).sort()).toEqual(
      Object.values(shared.mixedFiles).sort(),
    );
  });

  it("hides each tenant's objects from the other: every acme id is a 404 for globex", async () => {
    const vs = shared.papers;
    const calls: Array<[string, () => PromiseLike<unknown>]> = [
      ["files.retrieve", () => globex.files.retrieve(shared.trace)],
      ["files.content", () => globex.files.content(shared.trace)],
      ["files.delete", () => globex.files.delete(shared.trace)],
      ["vectorStores.retrieve", () => globex.vectorStores.retrieve(vs)],
      ["vectorStores.update", () => globex.vectorStores.update(vs, { name: "stolen" })],
      ["vectorStores.delete", () => globex.vectorStores.delete(vs)],
      ["vectorStores.search", () => globex.vectorStores.search(vs, { query: "trace" })],
      ["vectorStores.files.list", () => globex.vectorStores.files.list(vs)],
      ["vectorStores.files.retrieve", () => globex.vectorStores.files.retrieve(shared.trace, { vector_store_id: vs })],
      ["vectorStores.files.update", () => globex.vectorStores.files.update(shared.trace, { vector_store_id: vs, attributes: { x: 1 } })],
      ["vectorStores.files.delete", () => globex.vectorStores.files.delete(shared.trace, { vector_store_id: vs })],
      ["vectorStores.files.content", () => globex.vectorStores.files.content(shared.trace, { vector_store_id: vs })],
      ["vectorStores.files.create", () => globex.vectorStores.files.create(vs, { file_id: shared.trace })],
      ["fileBatches.retrieve", () => globex.vectorStores.fileBatches.retrieve(shared.batch, { vector_store_id: shared.mixed })],
      ["fileBatches.cancel", () => globex.vectorStores.fileBatches.cancel(shared.batch, { vector_store_id: shared.mixed })],
      ["fileBatches.listFiles", () => globex.vectorStores.fileBatches.listFiles(shared.batch, { vector_store_id: shared.mixed })],
      ["fileBatches.create", () => globex.vectorStores.fileBatches.create(shared.mixed, { file_ids: [shared.trace] })],
    ];
    for (const [name, call] of calls) {
      const error = await rejection(call(), NotFoundError);
      expect(error.status, name).toBe(404);
      expect(error.type, name).toBe("invalid_request_error");
    }
    // globex's own store cannot take acme's file either.
    const own = await globex.vectorStores.create({ name: "globex", file_ids: [] });
    await rejection(globex.vectorStores.files.create(own.id, { file_id: shared.trace }), NotFoundError);
    await rejection(globex.vectorStores.create({ file_ids: [shared.trace] }), NotFoundError);
    expect(ids(await collect(globex.files.list()))).toEqual([]);
    expect(ids(await collect(globex.vectorStores.list()))).toEqual([own.id]);
    // Nothing of acme's changed.
    expect(await acme.vectorStores.retrieve(vs)).toMatchObject({ name: "papers" });
    expect((await acme.files.retrieve(shared.trace)).id).toBe(shared.trace);
  });

  it("answers typed errors with OpenAI's error body", async () => {
    const vs = shared.papers;
    for (const call of [
      () => acme.files.retrieve("file-000000000000000000000000"),
      () => acme.files.retrieve("not-a-file-id"),
      () => acme.files.content("file-000000000000000000000000"),
      () => acme.files.delete("file-000000000000000000000000"),
      () => acme.vectorStores.retrieve(`vs_${"0".repeat(32)}`),
      () => acme.vectorStores.search(`vs_${"0".repeat(32)}`, { query: "x" }),
      () => acme.vectorStores.files.retrieve("file-000000000000000000000000", { vector_store_id: vs }),
      () => acme.vectorStores.files.create(vs, { file_id: "file-000000000000000000000000" }),
      () => acme.vectorStores.fileBatches.retrieve(`vsfb_${"0".repeat(32)}`, { vector_store_id: vs }),
      () => acme.vectorStores.fileBatches.create(vs, { file_ids: [shared.trace, "file-000000000000000000000000"] }),
    ]) {
      const error = await rejection(call(), NotFoundError);
      expect(error.code).toBe("not_found");
    }

    const zero = await rejection(acme.vectorStores.search(vs, { query: "trace", max_num_results: 0 }), BadRequestError);
    expect(zero).toMatchObject({ status: 400, type: "invalid_request_error", code: "validation_error", param: "max_num_results" });
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i]));
    const attributes = await rejection(acme.vectorStores.files.update(shared.trace, { vector_store_id: vs, attributes: many }), BadRequestError);
    expect(attributes.param).toBe("attributes");
    const overlap = await rejection(
      acme.vectorStores.create({ name: "bad", chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 400, chunk_overlap_tokens: 201 } } }),
      BadRequestError,
    );
    expect(overlap.param).toMatch(/^chunking_strategy/);
    const attachOverlap = await rejection(
      acme.vectorStores.files.create(vs, { file_id: shared.trace, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 51 } } }),
      BadRequestError,
    );
    expect(attachOverlap.param).toMatch(/^chunking_strategy/);
    await rejection(acme.vectorStores.search(vs, { query: "trace", filters: { type: "in", key: "team", value: "a" } }), BadRequestError);
    await rejection(acme.vectorStores.search(vs, { query: "trace", filters: { type: "eq", key: "team", value: ["a"] } }), BadRequestError);
    await rejection(acme.vectorStores.search(vs, { query: "" }), BadRequestError);
    await rejection(acme.vectorStores.create({ name: "x".repeat(300) }), BadRequestError);
    await rejection(acme.vectorStores.files.update(shared.trace, { vector_store_id: vs, attributes: { ["k".repeat(65)]: 1 } }), BadRequestError);
    const purpose = await rejection(acme.files.create({ file: await toFile(Buffer.from("x"), "x.txt"), purpose: "nonsense" as "assistants" }), BadRequestError);
    expect(purpose.param).toBe("purpose");

    for (const key of ["wrong-key", TEST_KEYS.acme.toUpperCase()]) {
      const bad = client(key);
      for (const call of [() => bad.files.list(), () => bad.vectorStores.retrieve(vs), () => bad.vectorStores.search(vs, { query: "x" })]) {
        const error = await rejection(call(), AuthenticationError);
        expect(error).toMatchObject({ status: 401, code: "invalid_api_key", type: "invalid_request_error" });
      }
    }
  });

  it("answers a bad list query in OpenAI's error shape too", async () => {
    // Expected: 400 {error: {message, type: "invalid_request_error", code, param}} as on every OpenAI route.
    const list = await rejection(acme.vectorStores.list({ limit: 101 }), BadRequestError);
    expect(list.param).toBe("limit");
    const cursor = await rejection(acme.vectorStores.list({ after: `vs_${"0".repeat(32)}` }), BadRequestError);
    expect(cursor.param).toBe("after");
    const files = await rejection(acme.files.list({ order: "sideways" as "asc" }), BadRequestError);
    expect(files.param).toBe("order");
    const storeFiles = await rejection(acme.vectorStores.files.list(shared.papers, { limit: 0 }), BadRequestError);
    expect(storeFiles.param).toBe("limit");
    await rejection(client("wrong-key").files.list({ limit: 5 }), AuthenticationError);
  });

  it("deletes: a file from a store, a file everywhere, a whole store", { timeout: 30_000 }, async () => {
    const f = shared.mixedFiles;
    const vs = shared.mixed;
    const fileIdsOfSearch = async (query: string) => new Set((await search(vs, { query, max_num_results: 50 })).map((h) => h.file_id));
    expect(await fileIdsOfSearch("Top left Top right Bottom left Above Below")).toContain(f["tables.docx"]);

    expect(await acme.vectorStores.files.delete(f["tables.docx"], { vector_store_id: vs })).toEqual({ id: f["tables.docx"], object: "vector_store.file.deleted", deleted: true });
    expect(ids(await collect(acme.vectorStores.files.list(vs)))).not.toContain(f["tables.docx"]);
    await rejection(acme.vectorStores.files.retrieve(f["tables.docx"], { vector_store_id: vs }), NotFoundError);
    expect(await fileIdsOfSearch("Top left Top right Bottom left Above Below")).not.toContain(f["tables.docx"]);
    expect(await search(vs, { query: "Top left", filters: { type: "eq", key: "team", value: "a" }, max_num_results: 50 })).not.toContainEqual(
      expect.objectContaining({ file_id: f["tables.docx"] }),
    );
    // The file itself stays, and can be attached again.
    expect((await acme.files.retrieve(f["tables.docx"])).id).toBe(f["tables.docx"]);
    expect((await acme.vectorStores.retrieve(vs)).file_counts.total).toBe(4);
    const batchAfter = await acme.vectorStores.fileBatches.retrieve(shared.batch, { vector_store_id: vs });
    expect(batchAfter.file_counts.total).toBe(4);

    expect(await acme.files.delete(f["README.md"])).toEqual({ id: f["README.md"], object: "file", deleted: true });
    await rejection(acme.files.retrieve(f["README.md"]), NotFoundError);
    await rejection(acme.files.content(f["README.md"]), NotFoundError);
    expect(ids(await collect(acme.files.list()))).not.toContain(f["README.md"]);
    expect(ids(await collect(acme.vectorStores.files.list(vs)))).not.toContain(f["README.md"]);
    await rejection(acme.vectorStores.files.retrieve(f["README.md"], { vector_store_id: vs }), NotFoundError);
    expect(await fileIdsOfSearch("docx conversion mammoth")).not.toContain(f["README.md"]);
    expect((await acme.vectorStores.retrieve(vs)).file_counts.total).toBe(3);
    await rejection(acme.files.delete(f["README.md"]), NotFoundError);

    expect(await acme.vectorStores.delete(vs)).toEqual({ id: vs, object: "vector_store.deleted", deleted: true });
    await rejection(acme.vectorStores.retrieve(vs), NotFoundError);
    await rejection(acme.vectorStores.search(vs, { query: "Mozilla" }), NotFoundError);
    await rejection(acme.vectorStores.files.list(vs), NotFoundError);
    await rejection(acme.vectorStores.delete(vs), NotFoundError);
    expect(ids(await collect(acme.vectorStores.list()))).not.toContain(vs);
    // Its files stay.
    expect((await acme.files.retrieve(f.NEWS)).filename).toBe("NEWS");
    expect(stack.api.child.exitCode).toBeNull();
    expect(stack.worker.child.exitCode).toBeNull();
  });

  it("logged no error in either process along the way", () => {
    const logs = [...stack.api.logs, ...stack.worker.logs];
    expect(logs.length).toBeGreaterThan(10);
    expect(new Set(logs.map((l) => l.level))).toContain("info");
    const errors = logs.filter((l) => l.level === "error" || l.level === "fatal");
    expect(errors.map((l) => `${String(l.msg)} ${JSON.stringify(l.err ?? l.error ?? "").slice(0, 300)}`)).toEqual([]);
  });
});
