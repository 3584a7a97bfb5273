/**
 * `POST /v1/collections/:id/documents {url}` over HTTP against a real api and worker: a local web
 * server plays the site (OUTBOUND_ALLOWLIST lets 127.0.0.1 through, and nothing else), and every
 * way a fetch can end is driven for real — redirects, lying Content-Types, refreshes that find the
 * same or new content, refusals, errors, timeouts, oversized answers.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const MAX_FILE_SIZE = 2 * 1024 * 1024;
let stack: TestStack;
let acme: ApiClient;
let site: Server;
let origin = "";
let collection = "";
/** What the site answers at each path; tests change it between fetches. */
const pages = new Map<string, { status?: number; type?: string; body?: Buffer | string; location?: string; hang?: boolean; chunked?: boolean }>();
const hits = new Map<string, number>();

const article = (title: string, body: string) =>
  `<!doctype html><html><head><title>${title}</title></head><body><nav>Home | About | Contact</nav><article><h1>${title}</h1>` +
  `<p>${body}</p><p>${"Readers of this page learn about the wildlife of the northern forests. ".repeat(8)}</p></article><footer>© 2026</footer></body></html>`;

const ended = (id: string) =>
  waitFor(async () => {
    const res = await acme.get(`/v1/jobs/${id}`);
    return ["succeeded", "failed", "cancelled"].includes(res.body.status) ? res.body : undefined;
  }, 60_000, `job ${id} to end`);

async function post(body: Json, expected = 202) {
  const res = await acme.post(`/v1/collections/${collection}/documents`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(expected);
  return res.body as Json;
}

async function ingestUrl(path: string, extra: Json = {}) {
  const accepted = await post({ url: `${origin}${path}`, ...extra });
  const job = await ended(accepted.job.id);
  const document = (await acme.get(`/v1/documents/${accepted.document.id}`)).body;
  return { accepted, job, document };
}

beforeAll(async () => {
  site = createServer((req, res) => {
    const path = req.url ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const page = pages.get(path);
    if (!page) return void res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    if (page.hang) return; // never answers
    const headers: Record<string, string> = { "content-type": page.type ?? "text/html; charset=utf-8" };
    if (page.location) headers.location = page.location.startsWith("/") ? `${origin}${page.location}` : page.location;
    if (page.chunked) {
      res.writeHead(page.status ?? 200, headers);
      const piece = Buffer.alloc(64 * 1024, "a");
      let sent = 0;
      const pump = () => {
        while (sent < MAX_FILE_SIZE * 2) {
          sent += piece.length;
          if (!res.write(piece)) return void res.once("drain", pump);
        }
        res.end();
      };
      res.on("error", () => undefined);
      return pump();
    }
    res.writeHead(page.status ?? 200, headers).end(page.body ?? "");
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  stack = await startTestStack({
    workers: true,
    env: { OUTBOUND_ALLOWLIST: "127.0.0.1", MAX_FILE_SIZE: String(MAX_FILE_SIZE), URL_FETCH_TIMEOUT_MS: "1500", JOB_ATTEMPTS: "2" },
  });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  collection = (await acme.post("/v1/collections", { name: "from the web" })).body.id;
}, 60_000);

afterAll(async () => {
  site?.closeAllConnections();
  await new Promise((resolve) => site?.close(resolve));
  await stack?.stop();
});

describe("a URL that answers", () => {
  it("is fetched by a worker, typed from its bytes, read through readability, and cites where it came from after redirects", async () => {
    pages.set("/old-address", { status: 301, location: "/wildlife/okapi" });
    pages.set("/wildlife/okapi", { body: article("The okapi", "The okapi is a giraffid found in the Ituri rainforest.") });
    const { accepted, job, document } = await ingestUrl("/old-address", { metadata: { team: "nature" } });
    expect(accepted.document).toMatchObject({ status: "queued", mime_type: null, sha256: null, size_bytes: 0, source: { url: `${origin}/old-address` } });
    expect(job).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(document).toMatchObject({
      status: "ready",
      title: "The okapi",
      mime_type: "text/html",
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      metadata: { team: "nature" },
      source: { url: `${origin}/old-address`, final_url: `${origin}/wildlife/okapi`, fetched_at: expect.any(String) },
    });
    expect(document.size_bytes).toBeGreaterThan(100);
    const hits = (await acme.post(`/v1/collections/${collection}/search`, { query: "okapi Ituri rainforest", mode: "keyword" })).body.data as Json[];
    expect(hits[0]).toMatchObject({ document_id: document.id });
    // The page's navigation and footer are not part of the document.
    expect(hits.map((h) => h.text).join(" ")).not.toContain("Home | About");
  });

  it("takes a PDF served as application/octet-stream as a PDF, with its pages", async () => {
    pages.set("/files/download?id=7", { type: "application/octet-stream", body: corpusFile("pdf/tracemonkey.pdf") });
    const { document } = await ingestUrl("/files/download?id=7");
    expect(document).toMatchObject({ status: "ready", mime_type: "application/pdf", page_count: 14 });
  });

  it("answers the same URL with the existing document, and fetches it again only when asked to refresh", async () => {
    pages.set("/news", { body: article("Forest news", "The first edition reports a herd of forest elephants.") });
    const first = await ingestUrl("/news");
    expect(first.document.status).toBe("ready");
    const fetchedAt = first.document.source.fetched_at;

    const again = await post({ url: `${origin}/news` }, 200);
    expect(again.document.id).toBe(first.document.id);
    expect(hits.get("/news")).toBe(1);

    // The same content: the job says so, the document keeps its chunks and stays searchable.
    const unchanged = await post({ url: `${origin}/news`, refresh: true });
    expect(unchanged.document).toMatchObject({ id: first.document.id, status: "ready" });
    expect((await ended(unchanged.job.id)).result).toMatchObject({ document_id: first.document.id, changed: false });
    const kept = (await acme.get(`/v1/documents/${first.document.id}`)).body;
    expect(kept).toMatchObject({ status: "ready", chunk_count: first.document.chunk_count, sha256: first.document.sha256 });
    expect(Date.parse(kept.source.fetched_at)).toBeGreaterThan(Date.parse(fetchedAt));
    expect(hits.get("/news")).toBe(2);

    // New content: ingested again; the old text is gone from search, the new one is found.
    pages.set("/news", { body: article("Forest news", "The second edition reports a family of bonobos by the river.") });
    const changed = await post({ url: `${origin}/news`, refresh: true });
    expect((await ended(changed.job.id)).result).toMatchObject({ document_id: first.document.id, changed: true });
    const fresh = (await acme.get(`/v1/documents/${first.document.id}`)).body;
    expect(fresh.status).toBe("ready");
    expect(fresh.sha256).not.toBe(first.document.sha256);
    const search = async (query: string) =>
      ((await acme.post(`/v1/collections/${collection}/search`, { query, mode: "keyword", top_k: 20 })).body.data as Json[]).filter((h) => h.document_id === first.document.id).map((h) => h.text).join(" ");
    expect(await search("bonobos river")).toContain("bonobos");
    expect(await search("elephants herd")).not.toContain("elephants");
  });

  it("queues one refresh when two are asked for at once", async () => {
    pages.set("/twice", { body: article("Twice", "Asked for twice at the same moment.") });
    const { document } = await ingestUrl("/twice");
    const [a, b] = await Promise.all([
      acme.post(`/v1/collections/${collection}/documents`, { url: `${origin}/twice`, refresh: true }),
      acme.post(`/v1/collections/${collection}/documents`, { url: `${origin}/twice`, refresh: true }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    expect(a.body.job.id).toBe(b.body.job.id);
    expect(a.body.document.id).toBe(document.id);
    await ended(a.body.job.id);
  });
});

describe("a URL that cannot be ingested", () => {
  it("refuses a request it can judge without the network with 400: bad schemes, credentials, literal private addresses, text and url together", async () => {
    const other = (await acme.post("/v1/collections", { name: "refusals" })).body.id;
    const cases: Array<[Json, number, string]> = [
      [{ url: "ftp://example.com/file.pdf" }, 400, "VALIDATION_ERROR"],
      [{ url: "not a url" }, 400, "VALIDATION_ERROR"],
      [{ url: "http://user:secret@example.com/" }, 400, "URL_REFUSED"],
      [{ url: "http://10.0.0.7/internal" }, 400, "URL_REFUSED"],
      [{ url: "http://169.254.169.254/latest/meta-data/" }, 400, "URL_REFUSED"],
      [{ url: "http://[::1]/" }, 400, "URL_REFUSED"],
      [{ url: `${origin}/x`, text: "both" }, 400, "VALIDATION_ERROR"],
      [{ url: `${origin}/x`, refresh: "yes" }, 400, "VALIDATION_ERROR"],
    ];
    for (const [body, status, code] of cases) {
      const res = await acme.post(`/v1/collections/${other}/documents`, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.code, JSON.stringify(body)).toBe(code);
    }
    expect((await acme.get(`/v1/collections/${other}/documents`)).body.data).toEqual([]);
  });

  it("ends the document failed with the code that says why, and the worker carries on", async () => {
    pages.set("/to-metadata", { status: 302, location: "http://169.254.169.254/latest/meta-data/" });
    pages.set("/to-loopback6", { status: 302, location: "http://[::1]:9/" });
    pages.set("/huge", { chunked: true, type: "text/plain" });
    pages.set("/declared-huge", { body: Buffer.alloc(MAX_FILE_SIZE + 1, "b"), type: "text/plain" });
    pages.set("/gone", { status: 410, body: "gone" });
    pages.set("/broken", { status: 503, body: "down" });
    pages.set("/slow", { hang: true });
    pages.set("/archive.bin", { type: "application/octet-stream", body: corpusFile("docx/empty.zip") });
    pages.set("/empty", { body: "" });
    const cases: Array<[string, string, number]> = [
      ["/to-metadata", "URL_REFUSED", 1],
      ["/to-loopback6", "URL_REFUSED", 1],
      ["/huge", "URL_TOO_LARGE", 1],
      ["/declared-huge", "URL_TOO_LARGE", 1],
      ["/gone", "URL_UNREACHABLE", 1],
      ["/missing-page", "URL_UNREACHABLE", 1],
      // Worth another try: a server error and a timeout are retried (JOB_ATTEMPTS=2 here).
      ["/broken", "URL_UNREACHABLE", 2],
      ["/slow", "URL_UNREACHABLE", 2],
      ["/archive.bin", "UNSUPPORTED_MEDIA_TYPE", 1],
      ["/empty", "NO_TEXT", 1],
    ];
    const accepted = await Promise.all(cases.map(([path]) => post({ url: `${origin}${path}` })));
    for (const [i, [path, code, attempts]] of cases.entries()) {
      const job = await ended(accepted[i]!.job.id);
      expect(job, path).toMatchObject({ status: "failed", attempts, error: { code } });
      const document = (await acme.get(`/v1/documents/${accepted[i]!.document.id}`)).body;
      expect(document, path).toMatchObject({ status: "failed", error: { code }, chunk_count: 0 });
    }
    // The worker carries on: the next URL is ingested as usual.
    pages.set("/after", { body: article("After", "Ingested after every failure above.") });
    expect((await ingestUrl("/after")).document.status).toBe("ready");
  }, 90_000);

  it("a host that does not resolve ends URL_UNREACHABLE without a retry", async () => {
    const accepted = await post({ url: "http://quarry-test-host.invalid/page" });
    expect(await ended(accepted.job.id)).toMatchObject({ status: "failed", attempts: 1, error: { code: "URL_UNREACHABLE" } });
  });

  it("a failed URL document can be retried, and every retry fetches it again", async () => {
    pages.set("/flaky", { status: 404 });
    const accepted = await post({ url: `${origin}/flaky` });
    expect((await ended(accepted.job.id)).status).toBe("failed");
    // Fetched, but nothing to read: the parse fails. A retry fetches again, and finds the fixed page.
    pages.set("/flaky", { body: "<!doctype html><html><head><title>Soon</title></head><body><main></main></body></html>" });
    expect((await acme.post(`/v1/jobs/${accepted.job.id}/retry`, {})).status).toBe(202);
    expect(await ended(accepted.job.id)).toMatchObject({ status: "failed", error: { code: "NO_TEXT" } });
    pages.set("/flaky", { body: article("Flaky", "It works the third time.") });
    expect((await acme.post(`/v1/jobs/${accepted.job.id}/retry`, {})).status).toBe(202);
    expect((await ended(accepted.job.id)).status).toBe("succeeded");
    expect((await acme.get(`/v1/documents/${accepted.document.id}`)).body).toMatchObject({ status: "ready", title: "Flaky" });
  });

  it("a refresh whose fetch fails leaves the ready document as it was, still searchable", async () => {
    pages.set("/stable", { body: article("Stable", "Pangolins roll into a ball when threatened.") });
    const { document } = await ingestUrl("/stable");
    pages.set("/stable", { status: 404 });
    const refresh = await post({ url: `${origin}/stable`, refresh: true });
    expect(await ended(refresh.job.id)).toMatchObject({ status: "failed", error: { code: "URL_UNREACHABLE" } });
    expect((await acme.get(`/v1/documents/${document.id}`)).body).toMatchObject({ status: "ready", chunk_count: document.chunk_count, sha256: document.sha256 });
    const found = (await acme.post(`/v1/collections/${collection}/search`, { query: "pangolins threatened", mode: "keyword" })).body.data as Json[];
    expect(found.map((h) => h.document_id)).toContain(document.id);
  });
});
