import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import express, { type Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../api/app.ts";
import { docsRoutes } from "../../api/routes/docs.routes.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { postForEvents } from "../helpers/sse.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

/**
 * The published description against the real service: every route the app serves is in
 * /openapi.json, and every answer below — successes, errors and event streams — is validated
 * against the document's own schemas with a JSON Schema 2020-12 validator.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Served by the app but not described, on purpose: the description itself and its viewer. */
const UNDESCRIBED = ["GET /openapi.json", "GET /docs"];
/** Middleware mounted at a path (not a route): what each one is, so a new one must be looked at. */
const MOUNTS = {
  "/v1": "the API key check and the JSON body parser",
  "/docs/assets": "Swagger UI's static files",
  "/v1/backups": "the admin token check and the JSON body parser",
  "/admin/queues": "Bull Board (its page, static files and API, not described here) behind the admin token and its write policy",
};

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: unknown;
  slash: boolean;
}

/** Walks the Express 5 router stacks: routes as `METHOD /path`, and middleware mounted at a path. */
function servedRoutes(app: Express) {
  const routes: string[] = [];
  const mounts: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) routes.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
        continue;
      }
      // Without the path a layer was mounted at this check would prove nothing: fail instead.
      expect(typeof layer.rawPath, "router layers keep their mount path (router >= 2.3)").toBe("string");
      const at = layer.slash ? "" : String(layer.rawPath);
      if (layer.handle.stack) walk(layer.handle.stack, prefix + at);
      else if (at) mounts.push(prefix + at);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, "");
  return { routes, mounts };
}

/** Validates real answers against the document; remembers which operation answered which status. */
function contract(doc: Json) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  formats.default(ajv);
  ajv.addKeyword("components"); // the wrapper below is not a schema itself, only where the $refs point
  const base = "https://quarry.test/openapi.json";
  ajv.addSchema({ $id: base, components: doc.components });
  const validators = new Map<string, ValidateFunction>();
  const validator = (schema: Json) => {
    expect(schema.$ref, "every response schema is a named component").toMatch(/^#\/components\/schemas\/\w+$/);
    const ref = String(schema.$ref);
    if (!validators.has(ref)) validators.set(ref, ajv.getSchema(base + ref)!);
    return validators.get(ref)!;
  };
  const validate = (schema: Json, value: unknown, what: string) => {
    const check = validator(schema);
    expect(check(value), `${what}: ${ajv.errorsText(check.errors)}\n${JSON.stringify(value).slice(0, 2000)}`).toBe(true);
  };
  const seen = new Map<string, Set<number>>();
  const responseFor = (method: string, path: string, status: number) => {
    const operation = doc.paths[path]?.[method.toLowerCase()];
    expect(operation, `${method} ${path} is described`).toBeDefined();
    const response = operation.responses[String(status)] ?? (status >= 400 ? operation.responses.default : undefined);
    expect(response, `${method} ${path} describes ${status}`).toBeDefined();
    seen.set(`${method} ${path}`, (seen.get(`${method} ${path}`) ?? new Set()).add(status));
    return response as Json;
  };
  const requiredHeaders = (response: Json, headers: Headers) => {
    for (const [name, header] of Object.entries((response.headers ?? {}) as Json)) {
      if (header.required) expect(headers.has(name), `the ${name} header`).toBe(true);
    }
  };
  const mediaOf = (response: Json, headers: Headers) => {
    const type = headers.get("content-type")?.split(";")[0]?.trim() ?? "";
    expect(Object.keys(response.content ?? {}), "the content type is described").toContain(type);
    requiredHeaders(response, headers);
    return response.content[type] as Json;
  };
  return {
    /** Checks a JSON answer of `METHOD /path/{template}`. */
    check<A extends Answer>(method: string, path: string, res: A): A {
      const response = responseFor(method, path, res.status);
      validate(mediaOf(response, res.headers).schema, res.body, `${method} ${path} → ${res.status}`);
      return res;
    },
    /**
     * Checks a plain-text answer (Prometheus' format at /metrics): its content type is described,
     * the text validates against the inline string schema described for it, and every line is a
     * comment or a sample.
     */
    checkText<A extends Answer & { text: string }>(method: string, path: string, res: A): A {
      const media = mediaOf(responseFor(method, path, res.status), res.headers);
      expect(media.schema?.$ref, "a text answer has an inline schema, not a JSON component").toBeUndefined();
      const check = ajv.compile(media.schema);
      expect(check(res.text), `${method} ${path} → ${res.status}: ${ajv.errorsText(check.errors)}`).toBe(true);
      const bad = res.text.split("\n").filter((line) => line !== "" && !line.startsWith("#") && !/^[a-zA-Z_:][\w:]*(\{.*\})? \S+$/.test(line));
      expect(bad, "lines that are neither comments nor samples").toEqual([]);
      return res;
    },
    /**
     * Checks an answer of bytes whose type is the content's own (a file's download): described as
     * any type (`*\/*`) of binary string, with its required headers.
     */
    checkBytes<A extends Answer>(method: string, path: string, res: A): A {
      const response = responseFor(method, path, res.status);
      expect(response.content?.["*/*"]?.schema, "bytes of any type are described").toEqual({ type: "string", format: "binary" });
      expect(res.headers.get("content-type"), "the bytes' type is sent").toBeTruthy();
      requiredHeaders(response, res.headers);
      return res;
    },
    /** Checks an event stream: its content type, and each event's data by the event's name. */
    checkEvents(method: string, path: string, res: { status: number; headers: Headers; events: Array<{ event: string; data: unknown }> }) {
      const media = mediaOf(responseFor(method, path, res.status), res.headers);
      expect(res.events.length).toBeGreaterThan(0);
      for (const e of res.events) {
        const schema = media["x-sse-events"]?.[e.event];
        expect(schema, `event "${e.event}" of ${method} ${path} is described`).toBeDefined();
        validate(schema, e.data, `${method} ${path} event ${e.event}`);
      }
      return res.events;
    },
    validate,
    seen,
  };
}

let stack: TestStack;
let offline: TestStack;
let doc: Json;
let api: ReturnType<typeof contract>;
let acme: ApiClient;
let globex: ApiClient;
let open: ApiClient;

beforeAll(async () => {
  // A small MAX_FILE_SIZE so that 413 costs a 250 kB request, not 10 MB.
  stack = await startTestStack({ workers: true, env: { MAX_FILE_SIZE: "200000", ADMIN_TOKEN: ADMIN } });
  // Redis on a port where nothing listens: readiness and enqueueing answer 503.
  offline = await startTestStack({ env: { REDIS_URL: "redis://127.0.0.1:1" } });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  globex = apiClient(stack.url, TEST_KEYS.globex);
  open = apiClient(stack.url);
  doc = (await open.get("/openapi.json")).body;
  api = contract(doc);
});
afterAll(async () => {
  await Promise.all([stack?.stop(), offline?.stop()]);
});

const ADMIN = "contract-admin-token";
const ENDED = ["succeeded", "failed", "cancelled"];
const jobEnds = (jobId: string) =>
  waitFor(async () => {
    const res = api.check("GET", "/v1/jobs/{id}", await acme.get(`/v1/jobs/${jobId}`));
    return ENDED.includes(res.body.status) ? res.body : undefined;
  }, 20_000, `job ${jobId} to end`);

/** `POST /v1/files`, multipart as OpenAI's SDKs send it: the fields, then the file. */
async function uploadToFiles(key: string, file: { name: string; content: Buffer }, fields: Record<string, string> = { purpose: "assistants" }, baseUrl = stack.url) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([new Uint8Array(file.content)]), file.name);
  const res = await fetch(`${baseUrl}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: form });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const state = { collection: "", jobs: [] as string[], documents: {} as Record<string, string>, failedJob: "" };

describe("the document", () => {
  it("describes every route the app serves, with an operationId each, for the origin it was asked at", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: stack.url }]);
    const operations = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.entries(item as Json)
        .filter(([key]) => key !== "parameters")
        .map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, id: (op as Json).operationId })),
    );
    expect(operations.every((o) => typeof o.id === "string")).toBe(true);
    expect(new Set(operations.map((o) => o.id)).size).toBe(operations.length);

    const { routes, mounts } = servedRoutes(createApp(stack.deps));
    const served = routes.filter((r) => !UNDESCRIBED.includes(r)).map((r) => r.replace(/:(\w+)/g, "{$1}"));
    const described = operations.map((o) => o.route);
    const difference = { undescribed: served.filter((r) => !described.includes(r)), unserved: described.filter((r) => !served.includes(r)) };
    expect(difference).toEqual({ undescribed: [], unserved: [] });
    expect(served).toHaveLength(described.length);
    expect(UNDESCRIBED.every((r) => routes.includes(r))).toBe(true);
    expect([...new Set(mounts)].sort()).toEqual(Object.keys(MOUNTS).sort());
  });

  it("names a configured public URL instead of the request's origin", async () => {
    const app = express().use(docsRoutes("https://quarry.example.com"));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.json`);
      expect(((await res.json()) as Json).servers).toEqual([{ url: "https://quarry.example.com" }]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("answers match the document", () => {
  it("health, readiness, auth and unknown routes", async () => {
    api.check("GET", "/health", await open.get("/health"));
    api.check("GET", "/ready", await open.get("/ready"));
    api.check("GET", "/ready", await apiClient(offline.url).get("/ready"));
    api.checkText("GET", "/metrics", await open.get("/metrics"));
    api.check("GET", "/v1/collections", await open.get("/v1/collections"));
    api.check("GET", "/v1/jobs", await apiClient(stack.url, "not-a-key-123").get("/v1/jobs"));
    const unknown = await acme.get("/v1/nothing");
    expect(unknown.status).toBe(404);
    api.validate({ $ref: "#/components/schemas/Error" }, unknown.body, "an unknown route");
  });

  it("collections", async () => {
    const created = api.check("POST", "/v1/collections", await acme.post("/v1/collections", { name: "contract" }));
    expect(created.status).toBe(201);
    state.collection = created.body.id;
    expect(api.check("POST", "/v1/collections", await acme.post("/v1/collections", { name: "contract" })).status).toBe(409);
    expect(api.check("POST", "/v1/collections", await acme.post("/v1/collections", { name: "" })).status).toBe(400);
    expect(api.check("POST", "/v1/collections", await acme.call("POST", "/v1/collections", "{not json")).status).toBe(400);
    expect(api.check("POST", "/v1/collections", await acme.call("POST", "/v1/collections", "name=x", { "content-type": "text/plain" })).status).toBe(415);
    expect(api.check("POST", "/v1/collections", await acme.post("/v1/collections", { name: "x", embedding: { provider: "openai" } })).status).toBe(422);
    api.check("GET", "/v1/collections", await acme.get("/v1/collections?limit=1"));
    expect(api.check("GET", "/v1/collections", await acme.get("/v1/collections?cursor=garbage")).status).toBe(400);
    api.check("GET", "/v1/collections/{id}", await acme.get(`/v1/collections/${state.collection}`));
    expect(api.check("GET", "/v1/collections/{id}", await globex.get(`/v1/collections/${state.collection}`)).status).toBe(404);
  });

  it("documents, and a job followed as events", async () => {
    const c = state.collection;
    const path = "/v1/collections/{id}/documents";
    const text = api.check("POST", path, await acme.post(`/v1/collections/${c}/documents`, { text: "Durable job records live in Postgres.", title: "Jobs", metadata: { team: "platform" }, external_id: "ext-1" }));
    expect(text.status).toBe(202);
    const events = api.checkEvents("GET", "/v1/jobs/{id}/events", await postForEvents(`${stack.url}/v1/jobs/${text.body.job.id}/events`, TEST_KEYS.acme, undefined, { method: "GET" }));
    expect(events.at(-1)?.event).toBe("end");
    const markdown = api.check("POST", path, await uploadFile(stack.url, TEST_KEYS.acme, c, { name: "README.md", content: corpusFile("markdown/README.md") }));
    const pdf = api.check("POST", path, await uploadFile(stack.url, TEST_KEYS.acme, c, { name: "sample.pdf", content: corpusFile("pdf/90ms_rksj_h_sample.pdf") }));
    const empty = api.check("POST", path, await acme.post(`/v1/collections/${c}/documents`, { text: " \n\n " }));
    for (const r of [markdown, pdf, empty]) expect(r.status).toBe(202);
    expect(api.check("POST", path, await acme.post(`/v1/collections/${c}/documents`, { text: "Durable job records live in Postgres." })).status).toBe(200);
    expect(api.check("POST", path, await uploadFile(stack.url, TEST_KEYS.acme, c, { name: "archive.zip", content: corpusFile("docx/empty.zip") })).status).toBe(415);
    expect(api.check("POST", path, await acme.call("POST", `/v1/collections/${c}/documents`, "plain", { "content-type": "text/plain" })).status).toBe(415);
    expect(api.check("POST", path, await acme.post(`/v1/collections/${c}/documents`, { text: "x".repeat(250_000) })).status).toBe(413);
    expect(api.check("POST", path, await acme.post(`/v1/collections/${c}/documents`, { title: "no text" })).status).toBe(400);
    expect(api.check("POST", path, await globex.post(`/v1/collections/${c}/documents`, { text: "hi" })).status).toBe(404);

    const jobs = [text, markdown, pdf, empty].map((r) => r.body.job.id as string);
    const ended = await Promise.all(jobs.map(jobEnds));
    expect(ended.map((j) => j.status)).toEqual(["succeeded", "succeeded", "succeeded", "failed"]);
    state.failedJob = jobs[3]!;
    state.documents = { text: text.body.document.id, markdown: markdown.body.document.id, pdf: pdf.body.document.id, empty: empty.body.document.id };
    for (const id of Object.values(state.documents)) api.check("GET", "/v1/documents/{id}", await acme.get(`/v1/documents/${id}`));
    expect((await acme.get(`/v1/documents/${state.documents.pdf}`)).body.page_count).toBe(1);
    api.check("GET", path, await acme.get(`/v1/collections/${c}/documents?status=ready&limit=2`));
    expect(api.check("GET", path, await acme.get(`/v1/collections/${c}/documents?status=deleting`)).status).toBe(400);

    // A URL document, in a collection of its own: queued with no type or hash until it is fetched.
    const web = (await acme.post("/v1/collections", { name: "contract web pages" })).body.id as string;
    const fromUrl = api.check("POST", path, await acme.post(`/v1/collections/${web}/documents`, { url: "http://quarry-contract.invalid/page", title: "Web" }));
    expect(fromUrl.status).toBe(202);
    expect(fromUrl.body.document).toMatchObject({ mime_type: null, sha256: null, size_bytes: 0, source: { url: "http://quarry-contract.invalid/page" } });
    api.check("GET", "/v1/documents/{id}", await acme.get(`/v1/documents/${fromUrl.body.document.id}`));
    expect(api.check("POST", path, await acme.post(`/v1/collections/${web}/documents`, { url: "http://quarry-contract.invalid/page" })).status).toBe(200);
    expect(api.check("POST", path, await acme.post(`/v1/collections/${web}/documents`, { url: "http://10.0.0.1/" })).body.error.code).toBe("URL_REFUSED");
    expect(api.check("GET", "/v1/documents/{id}", await acme.get(`/v1/documents/${randomUUID()}`)).status).toBe(404);
    api.check("GET", "/v1/jobs", await acme.get("/v1/jobs?type=ingest_document&limit=100"));
    expect(api.check("GET", "/v1/jobs", await acme.get("/v1/jobs?status=exploded")).status).toBe(400);
    expect(api.check("GET", "/v1/jobs/{id}", await globex.get(`/v1/jobs/${jobs[0]}`)).status).toBe(404);
    expect(api.check("GET", "/v1/jobs/{id}/events", await globex.get(`/v1/jobs/${jobs[0]}/events`)).status).toBe(404);
  });

  it("search", async () => {
    const path = "/v1/collections/{id}/search";
    const url = `/v1/collections/${state.collection}/search`;
    const md = api.check("POST", path, await acme.post(url, { query: "convert docx documents to HTML", top_k: 3 }));
    expect(md.body.data.some((h: Json) => typeof h.heading === "string")).toBe(true);
    const pdf = api.check("POST", path, await acme.post(url, { query: "Hello ASCII", filter: { team: { $in: ["none"] } } }));
    expect(pdf.body.data).toEqual([]);
    const paged = api.check("POST", path, await acme.post(url, { query: "Hello ASCII", top_k: 10 }));
    expect(paged.body.data.some((h: Json) => h.page === 1)).toBe(true);
    expect(api.check("POST", path, await acme.post(url, { query: "x", top_k: 101 })).status).toBe(400);
    expect(api.check("POST", path, await globex.post(url, { query: "x" })).status).toBe(404);
  });

  it("chat, as JSON and as events, and its session", async () => {
    const ask = { collection_ids: [state.collection], message: "Where do durable job records live?" };
    const answer = api.check("POST", "/v1/chat", await acme.post("/v1/chat", ask));
    expect(answer.status).toBe(200);
    const streamed = await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, { ...ask, session_id: answer.body.session_id, stream: true });
    expect(api.checkEvents("POST", "/v1/chat", streamed).map((e) => e.event)).toEqual(expect.arrayContaining(["sources", "delta", "done"]));
    expect(api.check("POST", "/v1/chat", await acme.post("/v1/chat", { ...ask, session_id: randomUUID() })).status).toBe(404);
    expect(api.check("POST", "/v1/chat", await acme.post("/v1/chat", { ...ask, message: "" })).status).toBe(400);
    const session = api.check("GET", "/v1/chat/sessions/{id}", await acme.get(`/v1/chat/sessions/${answer.body.session_id}`));
    expect(session.body.messages).toHaveLength(4);
    expect(api.check("GET", "/v1/chat/sessions/{id}", await globex.get(`/v1/chat/sessions/${answer.body.session_id}`)).status).toBe(404);
  });

  it("embeddings", async () => {
    api.check("POST", "/v1/embeddings", await acme.post("/v1/embeddings", { input: ["one", "two"] }));
    api.check("POST", "/v1/embeddings", await acme.post("/v1/embeddings", { input: "one", encoding_format: "base64" }));
    expect(api.check("POST", "/v1/embeddings", await acme.post("/v1/embeddings", { input: [] })).status).toBe(400);
    expect(api.check("POST", "/v1/embeddings", await acme.post("/v1/embeddings", { input: "one", model: "text-embedding-3-small" })).status).toBe(422);
  });

  it("re-embedding, cancelling and retrying jobs", async () => {
    const c = state.collection;
    // With the workers paused, queued jobs stay queued: re-embeds can be refused and jobs cancelled.
    const workers = stack.workers!.workers;
    await Promise.all(workers.map((w) => w.pause()));
    try {
      const reembed = api.check("POST", "/v1/collections/{id}/reembed", await acme.post(`/v1/collections/${c}/reembed`, { embedding: { provider: "local", dimensions: 256 } }));
      expect(reembed.status).toBe(202);
      expect(api.check("GET", "/v1/collections/{id}", await acme.get(`/v1/collections/${c}`)).body.reembedding_to).toMatchObject({ dimensions: 256 });
      expect(api.check("POST", "/v1/collections/{id}/reembed", await acme.post(`/v1/collections/${c}/reembed`, { embedding: { provider: "local" } })).status).toBe(409);
      expect(api.check("POST", "/v1/collections/{id}/documents", await acme.post(`/v1/collections/${c}/documents`, { text: "busy" })).status).toBe(409);
      expect(api.check("POST", "/v1/collections/{id}/reembed", await acme.post(`/v1/collections/${c}/reembed`, {})).status).toBe(400);
      const cancelled = api.check("POST", "/v1/jobs/{id}/cancel", await acme.post(`/v1/jobs/${reembed.body.job.id}/cancel`));
      expect(cancelled.body.job).toMatchObject({ status: "cancelled", error: { code: "CANCELLED" } });
    } finally {
      await Promise.all(workers.map((w) => w.resume()));
    }
    expect(api.check("POST", "/v1/jobs/{id}/cancel", await acme.post(`/v1/jobs/${state.failedJob}/cancel`)).status).toBe(409);
    expect(api.check("POST", "/v1/jobs/{id}/cancel", await globex.post(`/v1/jobs/${state.failedJob}/cancel`)).status).toBe(404);
    const retried = api.check("POST", "/v1/jobs/{id}/retry", await acme.post(`/v1/jobs/${state.failedJob}/retry`));
    expect(retried.status).toBe(202);
    expect((await jobEnds(retried.body.job.id)).error?.code).toBe("NO_TEXT");
    const succeeded = api.check("GET", "/v1/jobs", await acme.get("/v1/jobs?status=succeeded&limit=1")).body.data[0].id;
    expect(api.check("POST", "/v1/jobs/{id}/retry", await acme.post(`/v1/jobs/${succeeded}/retry`)).status).toBe(409);
    expect(api.check("POST", "/v1/jobs/{id}/retry", await acme.post(`/v1/jobs/${randomUUID()}/retry`)).status).toBe(404);
  });

  it("backups and restores (admin token)", async () => {
    const admin = apiClient(stack.url, ADMIN);
    const adminJobEnds = (jobId: string) =>
      waitFor(async () => {
        const res = api.check("GET", "/v1/jobs/{id}", await admin.get(`/v1/jobs/${jobId}`));
        return ENDED.includes(res.body.status) ? res.body : undefined;
      }, 30_000, `job ${jobId} to end`);
    expect(api.check("GET", "/v1/backups", await acme.get("/v1/backups")).status).toBe(401);
    expect(api.check("GET", "/v1/backups", await apiClient(offline.url, ADMIN).get("/v1/backups")).status).toBe(403);
    expect(api.check("POST", "/v1/backups", await admin.post("/v1/backups", { collection_ids: ["nope"] })).status).toBe(400);
    expect(api.check("POST", "/v1/backups", await admin.post("/v1/backups", { collection_ids: [randomUUID()] })).status).toBe(404);
    const taken = api.check("POST", "/v1/backups", await admin.post("/v1/backups", { collection_ids: [state.collection] }));
    expect(taken.status).toBe(202);
    expect(taken.body.backup).toMatchObject({ trigger: "manual", status: "running" });
    expect(await adminJobEnds(taken.body.job.id)).toMatchObject({ type: "create_backup", status: "succeeded" });
    const id = taken.body.backup.id;
    const one = api.check("GET", "/v1/backups/{id}", await admin.get(`/v1/backups/${id}`));
    expect(one.body).toMatchObject({ id, status: "succeeded", retention_class: expect.any(String), collections: [{ id: state.collection }] });
    expect(api.check("GET", "/v1/backups", await admin.get("/v1/backups")).body.data.map((b: Json) => b.id)).toContain(id);
    expect(api.check("GET", "/v1/backups/{id}", await admin.get("/v1/backups/..%2Fetc")).status).toBe(404);
    expect(api.check("POST", "/v1/backups/{id}/restore", await admin.post(`/v1/backups/${id}/restore`, { collection_ids: [randomUUID()] })).status).toBe(422);
    expect(api.check("POST", "/v1/backups/{id}/restore", await admin.post(`/v1/backups/nope-${id}/restore`, {})).status).toBe(404);
    const restore = api.check("POST", "/v1/backups/{id}/restore", await admin.post(`/v1/backups/${id}/restore`, { as_new_collection: true }));
    expect(restore.status).toBe(202);
    expect(await adminJobEnds(restore.body.job.id)).toMatchObject({ type: "restore_backup", status: "succeeded" });
    // A tenant's key never sees the operator's jobs; the admin token opens no tenant route.
    expect(api.check("GET", "/v1/jobs/{id}", await acme.get(`/v1/jobs/${restore.body.job.id}`)).status).toBe(404);
    expect(api.check("GET", "/v1/collections", await admin.get("/v1/collections")).status).toBe(403);
  });

  it("workflows and their runs", async () => {
    const body = { name: "contract", steps: [{ id: "find", type: "search", with: { collection_id: state.collection, query: "{{input.q}}", top_k: 2 } }] };
    expect(api.check("GET", "/v1/workflows/signing-secret", await acme.get("/v1/workflows/signing-secret")).body).toEqual({ secret: null });
    const created = api.check("POST", "/v1/workflows", await acme.post("/v1/workflows", body));
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(api.check("POST", "/v1/workflows", await acme.post("/v1/workflows", body)).status).toBe(409);
    const bad = api.check("POST", "/v1/workflows", await acme.post("/v1/workflows", { ...body, steps: [{ ...body.steps[0], needs: ["ghost"] }] }));
    expect(bad.body.error).toMatchObject({ code: "INVALID_WORKFLOW", details: [{ path: "$.steps[0].needs[0]" }] });
    expect(api.check("PUT", "/v1/workflows/{id}", await acme.call("PUT", `/v1/workflows/${id}`, { ...body, description: "v2" })).body.version).toBe(2);
    expect(api.check("GET", "/v1/workflows/{id}", await acme.get(`/v1/workflows/${id}?version=1`)).body.version).toBe(1);
    expect(api.check("GET", "/v1/workflows/{id}", await globex.get(`/v1/workflows/${id}`)).status).toBe(404);
    expect(api.check("GET", "/v1/workflows", await acme.get("/v1/workflows")).body.data.map((w: Json) => w.id)).toContain(id);
    const started = api.check("POST", "/v1/workflows/{id}/runs", await acme.post(`/v1/workflows/${id}/runs`, { input: { q: "text" } }));
    expect(started.status).toBe(202);
    expect(await jobEnds(started.body.job.id)).toMatchObject({ type: "run_workflow", status: "succeeded" });
    const run = api.check("GET", "/v1/workflow-runs/{id}", await acme.get(`/v1/workflow-runs/${started.body.run.id}`));
    expect(run.body.steps).toMatchObject([{ id: "find", status: "succeeded", output: { results: expect.any(Array) } }]);
    expect(api.check("GET", "/v1/workflow-runs/{id}", await globex.get(`/v1/workflow-runs/${started.body.run.id}`)).status).toBe(404);
    expect(api.check("GET", "/v1/workflows/{id}/runs", await acme.get(`/v1/workflows/${id}/runs`)).body.data).toHaveLength(1);
    expect(api.check("POST", "/v1/workflows/{id}/runs", await acme.post(`/v1/workflows/${id}/runs`, { input: {}, extra: 1 })).status).toBe(400);
    expect((await acme.call("DELETE", `/v1/workflows/${id}`)).status).toBe(204);
    // No body to validate: the answer is only its status, which the document names.
    expect(doc.paths["/v1/workflows/{id}"].delete.responses["204"]).toBeDefined();
    api.seen.set("DELETE /v1/workflows/{id}", new Set([204]));
    expect(api.check("POST", "/v1/workflows/{id}/runs", await acme.post(`/v1/workflows/${id}/runs`, {})).status).toBe(404);
  });

  it("deletions", async () => {
    const doc = api.check("DELETE", "/v1/documents/{id}", await acme.delete(`/v1/documents/${state.documents.text}`));
    expect(doc.status).toBe(202);
    expect(api.check("DELETE", "/v1/documents/{id}", await acme.delete(`/v1/documents/${state.documents.text}`)).status).toBe(404);
    const collection = api.check("DELETE", "/v1/collections/{id}", await acme.delete(`/v1/collections/${state.collection}`));
    expect(collection.status).toBe(202);
    expect(api.check("DELETE", "/v1/collections/{id}", await acme.delete(`/v1/collections/${state.collection}`)).status).toBe(404);
    const ended = await Promise.all([jobEnds(doc.body.job.id), jobEnds(collection.body.job.id)]);
    expect(ended.map((j) => j.status)).toEqual(["succeeded", "succeeded"]);
  });

  it("OpenAI-compatible files, vector stores, their files and file batches", async () => {
    const vs = "/v1/vector_stores/{id}";
    const vsFile = "/v1/vector_stores/{id}/files/{fileId}";
    const batch = "/v1/vector_stores/{id}/file_batches/{batchId}";
    const readme = corpusFile("markdown/README.md");
    const notes = Buffer.from("Durable job records live in Postgres. The queue lives in Redis and only carries job ids.\n");

    // Files: multipart uploads, lists, downloads.
    expect(api.check("GET", "/v1/files", await open.get("/v1/files")).body.error.code).toBe("invalid_api_key");
    const md = api.check("POST", "/v1/files", await uploadToFiles(TEST_KEYS.acme, { name: "README.md", content: readme }, { purpose: "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "3600" }));
    expect(md.status).toBe(200);
    expect(md.body.expires_at - md.body.created_at).toBeGreaterThanOrEqual(3599);
    const txt = api.check("POST", "/v1/files", await uploadToFiles(TEST_KEYS.acme, { name: "notes.txt", content: notes }));
    const zip = api.check("POST", "/v1/files", await uploadToFiles(TEST_KEYS.acme, { name: "archive.zip", content: corpusFile("docx/empty.zip") }));
    const more = api.check("POST", "/v1/files", await uploadToFiles(TEST_KEYS.acme, { name: "more.txt", content: Buffer.from("Workers take jobs from the queue.\n") }));
    expect(api.check("POST", "/v1/files", await uploadToFiles(TEST_KEYS.acme, { name: "x.txt", content: notes }, {})).body.error).toMatchObject({ code: "validation_error", param: "purpose" });
    expect(api.check("POST", "/v1/files", await acme.post("/v1/files", { purpose: "assistants" })).status).toBe(400);
    expect(api.check("POST", "/v1/files", await uploadToFiles(TEST_KEYS.acme, { name: "big.txt", content: Buffer.alloc(250_000, "a") })).status).toBe(413);
    api.check("GET", "/v1/files", await acme.get("/v1/files?limit=2&order=asc"));
    expect(api.check("GET", "/v1/files/{id}", await acme.get(`/v1/files/${md.body.id}`)).body).toEqual(md.body);
    expect(api.check("GET", "/v1/files/{id}", await globex.get(`/v1/files/${md.body.id}`)).status).toBe(404);
    expect(api.check("GET", "/v1/files/{id}", await acme.get("/v1/files/not-a-file")).status).toBe(404);
    expect(api.checkBytes("GET", "/v1/files/{id}/content", await acme.get(`/v1/files/${md.body.id}/content`)).text).toBe(readme.toString("utf8"));
    expect(api.check("GET", "/v1/files/{id}/content", await globex.get(`/v1/files/${md.body.id}/content`)).status).toBe(404);

    // Vector stores.
    const created = api.check("POST", "/v1/vector_stores", await acme.post("/v1/vector_stores", { name: "contract", metadata: { team: "platform" }, file_ids: [md.body.id] }));
    expect(created.body.file_counts.total).toBe(1);
    const id = created.body.id as string;
    expect(api.check("POST", "/v1/vector_stores", await acme.post("/v1/vector_stores", { file_ids: [`file-${"0".repeat(24)}`] })).body.error.param).toBe("file_ids");
    expect(api.check("POST", "/v1/vector_stores", await acme.post("/v1/vector_stores", { name: 5 })).status).toBe(400);
    expect(api.check("POST", "/v1/vector_stores", await acme.call("POST", "/v1/vector_stores", "name=x", { "content-type": "text/plain" })).status).toBe(415);
    api.check("GET", "/v1/vector_stores", await acme.get("/v1/vector_stores?limit=1"));
    api.check("GET", vs, await acme.get(`/v1/vector_stores/${id}`));
    expect(api.check("GET", vs, await globex.get(`/v1/vector_stores/${id}`)).status).toBe(404);
    const renamed = api.check("POST", vs, await acme.post(`/v1/vector_stores/${id}`, { name: "renamed", expires_after: { anchor: "last_active_at", days: 7 } }));
    expect(renamed.body).toMatchObject({ name: "renamed", expires_after: { days: 7 }, expires_at: expect.any(Number) });
    expect(api.check("POST", vs, await acme.post(`/v1/vector_stores/${id}`, { metadata: "x" })).status).toBe(400);

    // Its files, polled until they end.
    const attached = api.check("POST", "/v1/vector_stores/{id}/files", await acme.post(`/v1/vector_stores/${id}/files`, { file_id: txt.body.id, attributes: { year: 2024, team: "platform" } }));
    if (attached.body.status === "in_progress") expect(attached.headers.get("openai-poll-after-ms")).toBe("500");
    const unsupported = api.check("POST", "/v1/vector_stores/{id}/files", await acme.post(`/v1/vector_stores/${id}/files`, { file_id: zip.body.id }));
    expect(unsupported.body).toMatchObject({ status: "failed", last_error: { code: "unsupported_file" } });
    expect(api.check("POST", "/v1/vector_stores/{id}/files", await acme.post(`/v1/vector_stores/${id}/files`, { file_id: `file-${"0".repeat(24)}` })).status).toBe(404);
    expect(api.check("POST", "/v1/vector_stores/{id}/files", await acme.post(`/v1/vector_stores/${id}/files`, { file_id: txt.body.id, attributes: { nested: { no: 1 } } })).status).toBe(400);
    for (const fileId of [md.body.id, txt.body.id]) {
      await waitFor(async () => {
        const res = api.check("GET", vsFile, await acme.get(`/v1/vector_stores/${id}/files/${fileId}`));
        expect(res.headers.has("openai-poll-after-ms")).toBe(res.body.status === "in_progress");
        return res.body.status === "completed";
      }, 20_000, `${fileId} to be completed`);
    }
    expect(api.check("GET", vsFile, await acme.get(`/v1/vector_stores/${id}/files/${more.body.id}`)).status).toBe(404);
    expect(api.check("GET", "/v1/vector_stores/{id}/files", await acme.get(`/v1/vector_stores/${id}/files?filter=completed&limit=1`)).body.has_more).toBe(true);
    expect(api.check("GET", "/v1/vector_stores/{id}/files", await acme.get(`/v1/vector_stores/${id}/files?filter=sideways`)).status).toBe(400);
    expect(api.check("GET", "/v1/vector_stores/{id}/files", await globex.get(`/v1/vector_stores/${id}/files`)).status).toBe(404);
    const updated = api.check("POST", vsFile, await acme.post(`/v1/vector_stores/${id}/files/${txt.body.id}`, { attributes: { year: 2025, team: "platform", public: true } }));
    expect(updated.body.attributes).toEqual({ year: 2025, team: "platform", public: true });
    expect(api.check("POST", vsFile, await acme.post(`/v1/vector_stores/${id}/files/${txt.body.id}`, {})).status).toBe(400);
    const content = api.check("GET", `${vsFile}/content`, await acme.get(`/v1/vector_stores/${id}/files/${txt.body.id}/content`));
    expect(content.body.data.map((c: Json) => c.text).join(" ")).toContain("Durable job records");
    expect(api.check("GET", `${vsFile}/content`, await acme.get(`/v1/vector_stores/${id}/files/${more.body.id}/content`)).status).toBe(404);

    // Search, with attribute filters.
    const search = `/v1/vector_stores/${id}/search`;
    const found = api.check("POST", `${vs}/search`, await acme.post(search, { query: "where do durable job records live?", filters: { type: "eq", key: "year", value: 2025 } }));
    expect(found.body.data.map((h: Json) => h.file_id)).toEqual([txt.body.id]);
    api.check("POST", `${vs}/search`, await acme.post(search, { query: ["job records", "markdown"], max_num_results: 3, ranking_options: { ranker: "none", score_threshold: 0 } }));
    expect(api.check("POST", `${vs}/search`, await acme.post(search, { query: "" })).status).toBe(400);
    expect(api.check("POST", `${vs}/search`, await globex.post(search, { query: "x" })).status).toBe(404);

    // File batches: with the workers paused, the batch stays in_progress until it is cancelled.
    const workers = stack.workers!.workers;
    await Promise.all(workers.map((w) => w.pause()));
    let batchId: string;
    try {
      const started = api.check("POST", "/v1/vector_stores/{id}/file_batches", await acme.post(`/v1/vector_stores/${id}/file_batches`, { file_ids: [more.body.id], attributes: { year: 2026 } }));
      expect(started.body).toMatchObject({ status: "in_progress", file_counts: { in_progress: 1, total: 1 } });
      expect(started.headers.get("openai-poll-after-ms")).toBe("500");
      batchId = started.body.id;
      expect(api.check("GET", batch, await acme.get(`/v1/vector_stores/${id}/file_batches/${batchId}`)).headers.get("openai-poll-after-ms")).toBe("500");
      const cancelled = api.check("POST", `${batch}/cancel`, await acme.post(`/v1/vector_stores/${id}/file_batches/${batchId}/cancel`));
      expect(cancelled.body).toMatchObject({ status: "cancelled", file_counts: { cancelled: 1, in_progress: 0 } });
    } finally {
      await Promise.all(workers.map((w) => w.resume()));
    }
    const listed = api.check("GET", `${batch}/files`, await acme.get(`/v1/vector_stores/${id}/file_batches/${batchId}/files`));
    expect(listed.body).toMatchObject({ object: "list", data: [{ id: more.body.id, status: "cancelled", attributes: { year: 2026 } }], first_id: more.body.id, last_id: more.body.id, has_more: false });
    expect(api.check("POST", "/v1/vector_stores/{id}/file_batches", await acme.post(`/v1/vector_stores/${id}/file_batches`, { file_ids: [more.body.id], files: [{ file_id: more.body.id }] })).status).toBe(400);
    expect(api.check("GET", batch, await acme.get(`/v1/vector_stores/${id}/file_batches/vsfb_${"0".repeat(32)}`)).status).toBe(404);
    expect(api.check("GET", `${batch}/files`, await acme.get(`/v1/vector_stores/${id}/file_batches/${batchId}/files?after=nope`)).body.error.code).toBe("invalid_cursor");

    // Removing a file from the store, the store expiring, deleting the store and the files.
    expect(api.check("DELETE", vsFile, await acme.delete(`/v1/vector_stores/${id}/files/${zip.body.id}`)).body).toEqual({ id: zip.body.id, object: "vector_store.file.deleted", deleted: true });
    expect(api.check("DELETE", vsFile, await acme.delete(`/v1/vector_stores/${id}/files/${zip.body.id}`)).status).toBe(404);
    await stack.deps.db.query(`UPDATE vector_stores SET last_active_at = now() - interval '8 days' WHERE id = $1`, [id]);
    expect(api.check("GET", vs, await acme.get(`/v1/vector_stores/${id}`)).body.status).toBe("expired");
    expect(api.check("POST", `${vs}/search`, await acme.post(search, { query: "x" })).body.error.code).toBe("vector_store_expired");
    expect(api.check("POST", "/v1/vector_stores/{id}/files", await acme.post(`/v1/vector_stores/${id}/files`, { file_id: more.body.id })).body.error.code).toBe("vector_store_expired");
    expect(api.check("DELETE", vs, await acme.delete(`/v1/vector_stores/${id}`)).body).toEqual({ id, object: "vector_store.deleted", deleted: true });
    expect(api.check("DELETE", vs, await acme.delete(`/v1/vector_stores/${id}`)).status).toBe(404);
    expect(api.check("DELETE", "/v1/files/{id}", await acme.delete(`/v1/files/${txt.body.id}`)).body).toEqual({ id: txt.body.id, object: "file", deleted: true });
    expect(api.check("DELETE", "/v1/files/{id}", await acme.delete(`/v1/files/${txt.body.id}`)).status).toBe(404);
  });

  // OPENAI_ROUTES (api/middleware/errors.ts) is matched against the URL with its query string.
  it("errors of /v1/files and /v1/vector_stores with a query string have OpenAI's shape", async () => {
    expect(api.check("GET", "/v1/files", await acme.get(`/v1/files?after=file-${"0".repeat(24)}`)).body.error.code).toBe("invalid_cursor");
    expect(api.check("GET", "/v1/vector_stores", await acme.get(`/v1/vector_stores?before=vs_${"0".repeat(32)}`)).body.error.code).toBe("invalid_cursor");
  });

  it("503 when the queue cannot take the work", async () => {
    const client = apiClient(offline.url, TEST_KEYS.acme);
    const c = api.check("POST", "/v1/collections", await client.post("/v1/collections", { name: "offline" }));
    expect(api.check("POST", "/v1/collections/{id}/documents", await client.post(`/v1/collections/${c.body.id}/documents`, { text: "cannot be queued" })).status).toBe(503);
    expect(api.check("DELETE", "/v1/collections/{id}", await client.delete(`/v1/collections/${c.body.id}`)).status).toBe(503);
    const store = api.check("POST", "/v1/vector_stores", await client.post("/v1/vector_stores", { name: "offline" }));
    const file = api.check("POST", "/v1/files", await uploadToFiles(TEST_KEYS.acme, { name: "offline.txt", content: Buffer.from("cannot be queued") }, undefined, offline.url));
    const refused = api.check("POST", "/v1/vector_stores/{id}/files", await client.post(`/v1/vector_stores/${store.body.id}/files`, { file_id: file.body.id }));
    expect(refused.body.error).toMatchObject({ type: "server_error", code: "queue_unavailable" });
  });

  it("every operation in the document was answered, with the errors that matter", () => {
    const operations = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.keys(item as Json)
        .filter((k) => k !== "parameters")
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    const unanswered = operations.filter((op) => ![...(api.seen.get(op) ?? [])].some((s) => s < 300));
    expect(unanswered).toEqual([]);
    const statuses = new Set([...api.seen.values()].flatMap((s) => [...s]));
    for (const status of [200, 201, 202, 400, 401, 404, 409, 413, 415, 422, 503]) expect(statuses, `a ${status} answer`).toContain(status);
  });
});
