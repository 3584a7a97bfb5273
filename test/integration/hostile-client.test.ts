import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonNestingExceeds } from "../../api/middleware/json-body.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { rawExchange } from "../helpers/raw-socket.ts";
import { TEST_KEYS } from "../helpers/test-env.ts";

let stack: TestStack;
let acme: ApiClient;
let collectionId: string;
const AUTH = `Bearer ${TEST_KEYS.acme}`;
const NIL = "00000000-0000-4000-8000-000000000000";

beforeAll(async () => {
  stack = await startTestStack({ env: { MAX_FILE_SIZE: String(64 * 1024) } });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  const res = await acme.post("/v1/collections", { name: "hostile" });
  expect(res.status).toBe(201);
  collectionId = res.body.id;
});
afterAll(async () => {
  await stack?.stop();
});

interface RawAnswer {
  status?: number;
  headers: Record<string, string>;
  body?: { error?: { code: string; message: string; details?: unknown } };
  text: string;
}

/** Bytes to the api over a plain socket, and what came back until it closed. */
async function raw(request: string | Buffer, options: { halfClose?: boolean } = {}): Promise<RawAnswer> {
  return parseAnswer((await rawExchange(stack.url, request, options)).toString("latin1"));
}

function parseAnswer(text: string): RawAnswer {
  const match = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  if (!match) return { headers: {}, text };
  const headers = Object.fromEntries(match[2]!.split("\r\n").map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
  let body: RawAnswer["body"];
  try {
    body = JSON.parse(Buffer.from(match[3]!, "latin1").toString("utf8"));
  } catch {
    body = undefined;
  }
  return { status: Number(match[1]), headers, body, text };
}

const httpRequest = (head: string, body: string | Buffer = "") =>
  Buffer.concat([Buffer.from(`${head}\r\nHost: quarry\r\nConnection: close\r\n\r\n`, "latin1"), Buffer.isBuffer(body) ? body : Buffer.from(body)]);

function multipart(parts: Array<{ name: string; value: string | Buffer; filename?: string }>, boundary = "qb0und4ry") {
  const chunks = parts.flatMap((p) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ""}\r\n` +
        (p.filename ? "Content-Type: text/plain\r\n" : "") +
        "\r\n",
    ),
    Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value),
    Buffer.from("\r\n"),
  ]);
  return Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]);
}

function upload(body: Buffer, contentType = "multipart/form-data; boundary=qb0und4ry") {
  return raw(
    httpRequest(
      `POST /v1/collections/${collectionId}/documents HTTP/1.1\r\nAuthorization: ${AUTH}\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}`,
      body,
    ),
  );
}

async function stillServing() {
  const res = await fetch(`${stack.url}/health`);
  expect(res.status).toBe(200);
}

describe("multipart bodies that cannot be read", () => {
  it("answers 400 MALFORMED_MULTIPART for a body that ends inside the file part, and keeps serving", async () => {
    const whole = multipart([{ name: "file", value: "a file that is cut off half way through", filename: "a.txt" }]);
    const res = await upload(whole.subarray(0, whole.indexOf("half")));
    expect(res.status).toBe(400);
    expect(res.body?.error?.code).toBe("MALFORMED_MULTIPART");
    await stillServing();
  });

  it("answers 400 MALFORMED_MULTIPART when the boundary is missing from the Content-Type or the body", async () => {
    const body = multipart([{ name: "file", value: "hello", filename: "a.txt" }]);
    for (const contentType of ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=somethingelse"]) {
      const res = await upload(body, contentType);
      expect(res.status, contentType).toBe(400);
      expect(res.body?.error?.code, contentType).toBe("MALFORMED_MULTIPART");
    }
  });

  it("survives a client that disconnects in the middle of the file", async () => {
    const whole = multipart([{ name: "file", value: Buffer.alloc(32 * 1024, "x"), filename: "a.txt" }]);
    const res = await raw(
      httpRequest(
        `POST /v1/collections/${collectionId}/documents HTTP/1.1\r\nAuthorization: ${AUTH}\r\nContent-Type: multipart/form-data; boundary=qb0und4ry\r\nContent-Length: ${whole.length}`,
        whole.subarray(0, 10_000),
      ),
      { halfClose: true },
    );
    expect(res.status ?? 400).toBeLessThan(500);
    await stillServing();
  });

  it("answers 400 for two files, a file under another name, and a broken part header", async () => {
    const two = await upload(multipart([{ name: "file", value: "one", filename: "a.txt" }, { name: "file", value: "two", filename: "b.txt" }]));
    expect([two.status, two.body?.error?.code]).toEqual([400, "VALIDATION_ERROR"]);
    const other = await upload(multipart([{ name: "attachment", value: "one", filename: "a.txt" }]));
    expect([other.status, other.body?.error?.code]).toEqual([400, "VALIDATION_ERROR"]);
    const header = await upload(Buffer.from(`--qb0und4ry\r\nContent-Disposition: form-data; name="file"\r\nX: ${"y".repeat(20_000)}\r\n\r\nhello\r\n--qb0und4ry--\r\n`));
    expect([header.status, header.body?.error?.code]).toEqual([400, "MALFORMED_MULTIPART"]);
  });

  it("checks the multipart metadata field like JSON metadata: NUL, lone surrogates, depth", async () => {
    const cases: Array<[string, string]> = [
      ['{"team":"a\\u0000b"}', "metadata.team"],
      ['{"team":"\\udc00"}', "metadata.team"],
      [`{"a":${"[".repeat(40)}${"]".repeat(40)}}`, "metadata.a"],
    ];
    for (const [metadata, field] of cases) {
      const res = await upload(multipart([{ name: "metadata", value: metadata }, { name: "file", value: `text ${field} ${metadata.length}`, filename: "a.txt" }]));
      expect(res.status, metadata).toBe(400);
      expect(res.body?.error?.code).toBe("VALIDATION_ERROR");
      expect(JSON.stringify(res.body?.error?.details)).toContain(field);
    }
    const nulTitle = await upload(multipart([{ name: "title", value: "a\u0000b" }, { name: "file", value: "titled", filename: "a.txt" }]));
    expect(nulTitle.status).toBe(400);
    expect(nulTitle.body?.error?.details).toEqual([expect.objectContaining({ field: "title" })]);
  });

  it("still takes a well-formed upload with fields after the file", async () => {
    const res = await upload(multipart([{ name: "file", value: "fields may come last", filename: "a.txt" }, { name: "title", value: "Late title" }]));
    expect(res.status).toBe(202);
  });
});

describe("NUL characters and lone surrogates in stored text", () => {
  const nul = "a\u0000b";
  const lone = "a\ud800b";
  const cases: Array<{ name: string; path: () => string; body: (bad: string) => unknown; field: string }> = [
    { name: "collection name", path: () => "/v1/collections", body: (bad) => ({ name: bad }), field: "name" },
    { name: "embedding model", path: () => "/v1/collections", body: (bad) => ({ name: "m", embedding: { provider: "local", model: bad } }), field: "embedding.model" },
    { name: "document title", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ text: "t", title: bad }), field: "title" },
    { name: "external_id", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ text: "t", external_id: bad }), field: "external_id" },
    { name: "callback_url", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ text: "t", callback_url: `https://example.com/${bad}` }), field: "callback_url" },
    { name: "document url", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ url: `https://example.com/${bad}` }), field: "url" },
    { name: "URL document title", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ url: "https://example.com/page", title: bad }), field: "title" },
    { name: "metadata value", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ text: "t", metadata: { k: bad } }), field: "metadata.k" },
    { name: "metadata key", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ text: "t", metadata: { [bad]: 1 } }), field: "metadata.a" },
    { name: "nested metadata", path: () => `/v1/collections/${collectionId}/documents`, body: (bad) => ({ text: "t", metadata: { k: [1, { deep: [bad] }] } }), field: "metadata.k.1.deep.0" },
    { name: "search query", path: () => `/v1/collections/${collectionId}/search`, body: (bad) => ({ query: bad }), field: "query" },
    { name: "search filter", path: () => `/v1/collections/${collectionId}/search`, body: (bad) => ({ query: "q", filter: { k: { $in: [bad] } } }), field: "filter.k.$in.0" },
    { name: "chat message", path: () => "/v1/chat", body: (bad) => ({ collection_ids: [collectionId], message: bad }), field: "message" },
    { name: "workflow name", path: () => "/v1/workflows", body: (bad) => ({ name: bad, steps: [{ id: "a", type: "llm", with: { prompt: "p" } }] }), field: "name" },
    { name: "workflow step prompt", path: () => "/v1/workflows", body: (bad) => ({ name: "w", steps: [{ id: "a", type: "llm", with: { prompt: bad } }] }), field: "steps.0.with.prompt" },
  ];
  for (const c of cases) {
    it(`rejects them in the ${c.name} with 400 VALIDATION_ERROR naming ${c.field}`, async () => {
      for (const bad of [nul, lone]) {
        const res = await acme.post(c.path(), c.body(bad));
        expect(res.status, JSON.stringify(bad)).toBe(400);
        expect(res.body.error.code).toBe("VALIDATION_ERROR");
        expect(res.body.error.details.map((d: { field: string }) => d.field).join(" ")).toContain(c.field);
      }
    });
  }
});

describe("URL documents of every wrong shape", () => {
  it("answers 400 naming the field, and stores nothing", async () => {
    const bodies: unknown[] = [
      { url: 42 },
      { url: null },
      { url: ["https://example.com/"] },
      { url: { href: "https://example.com/" } },
      { url: "" },
      { url: `https://example.com/${"a".repeat(3000)}` },
      // Under 2000 characters, but 5,700 bytes: more than a Postgres index entry holds.
      { url: `https://example.com/${"漢".repeat(1900)}` },
      { url: "javascript:alert(1)" },
      { url: "file:///etc/passwd" },
      { url: "https://example.com/", refresh: "true" },
      { url: "https://example.com/", refresh: 1 },
      { url: "https://example.com/", text: "both" },
      { url: "https://example.com/", metadata: "not an object" },
      { url: "http://[::ffff:127.0.0.1]/" },
      { url: "http://0.0.0.0/" },
      { url: "https://user:pass@example.com/" },
    ];
    for (const body of bodies) {
      const res = await acme.post(`/v1/collections/${collectionId}/documents`, body);
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(400);
      expect(["VALIDATION_ERROR", "URL_REFUSED"], JSON.stringify(body).slice(0, 120)).toContain(res.body.error.code);
      expect(res.body.error.message.length).toBeGreaterThan(0);
    }
    const stored = (await acme.get(`/v1/collections/${collectionId}/documents?limit=100`)).body.data as Array<{ source?: unknown }>;
    expect(stored.filter((d) => d.source)).toEqual([]);
  });
});

describe("deeply nested JSON", () => {
  it("counts brackets outside strings only, without recursion", () => {
    const nest = (n: number) => "[".repeat(n) + "]".repeat(n);
    expect(jsonNestingExceeds(Buffer.from(nest(32)), 32)).toBe(false);
    expect(jsonNestingExceeds(Buffer.from(nest(33)), 32)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from(nest(1_000_000)), 32)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from(JSON.stringify({ s: `${"[".repeat(100)}\\"{{{` })), 2)).toBe(false);
    expect(jsonNestingExceeds(Buffer.from(`{"a\\\\":[[["x"]]]}`), 3)).toBe(true);
    expect(jsonNestingExceeds(Buffer.from(`{"é\\"[[[[":"ü"}`), 1)).toBe(false);
  });

  it("answers 400 JSON_TOO_DEEP for any body nested deeper than 32 levels", async () => {
    const deep = (n: number) => `{"text":"t","metadata":{"k":${"[".repeat(n)}${"]".repeat(n)}}}`;
    for (const n of [31, 100, 60_000]) {
      const res = await acme.call("POST", `/v1/collections/${collectionId}/documents`, deep(n));
      expect(res.status, String(n)).toBe(400);
      expect(res.body.error.code).toBe("JSON_TOO_DEEP");
    }
    const chat = await acme.call("POST", "/v1/chat", `{"collection_ids":["${collectionId}"],"message":"m","filter":${"[".repeat(5000)}${"]".repeat(5000)}}`);
    expect(chat.body.error.code).toBe("JSON_TOO_DEEP");
    // Up to the limit the body is read as usual.
    const ok = await acme.call("POST", `/v1/collections/${collectionId}/documents`, deep(30));
    expect(ok.status).toBe(202);
  });
});

describe("body types", () => {
  const routes = () => [
    "/v1/collections",
    `/v1/collections/${collectionId}/search`,
    `/v1/collections/${collectionId}/reembed`,
    "/v1/chat",
    "/v1/embeddings",
    `/v1/jobs/${NIL}/cancel`,
  ];
  it("answers 415 UNSUPPORTED_MEDIA_TYPE for JSON sent as anything but application/json", async () => {
    for (const path of routes()) {
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", undefined]) {
        const res = await fetch(`${stack.url}${path}`, {
          method: "POST",
          headers: { authorization: AUTH, ...(type ? { "content-type": type } : {}) },
          body: new Uint8Array(Buffer.from('{"name":"x","query":"q"}')), // a Uint8Array: fetch sets no Content-Type of its own
        });
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(res.status, `${path} ${type}`).toBe(415);
        expect(body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
        expect(body.error.message).toContain("application/json");
      }
    }
  });

  it("answers 415 for JSON in another charset or an unknown Content-Encoding, 400 for a corrupt gzip body", async () => {
    const latin1 = await acme.call("POST", "/v1/collections", '{"name":"x"}', { "content-type": "application/json; charset=latin1" });
    expect([latin1.status, latin1.body.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    const utf16 = await acme.call("POST", "/v1/collections", '{"name":"x"}', { "content-type": "application/json; charset=utf-16" });
    expect([utf16.status, utf16.body.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    const encoding = await acme.call("POST", "/v1/collections", '{"name":"x"}', { "content-encoding": "snappy" });
    expect([encoding.status, encoding.body.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    const gzip = await acme.call("POST", "/v1/collections", "not gzip at all", { "content-encoding": "gzip" });
    expect([gzip.status, gzip.body.error.code]).toEqual([400, "BAD_REQUEST"]);
    const deep = gzipSync(`{"name":${"[".repeat(50)}${"]".repeat(50)}}`);
    const res = await fetch(`${stack.url}/v1/collections`, { method: "POST", headers: { authorization: AUTH, "content-type": "application/json", "content-encoding": "gzip" }, body: new Uint8Array(deep) });
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("JSON_TOO_DEEP");
  });

  it("answers 400 VALIDATION_ERROR for a POST with no body where one is needed", async () => {
    for (const path of [...routes().slice(0, 5), `/v1/collections/${collectionId}/documents`]) {
      for (const headers of [{}, { "content-type": "text/plain" }, { "content-type": "application/json" }]) {
        const res = await fetch(`${stack.url}${path}`, { method: "POST", headers: { authorization: AUTH, ...headers } });
        const body = (await res.json()) as { error: { code: string } };
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(400);
        expect(body.error.code).toBe("VALIDATION_ERROR");
      }
    }
  });

  it("leaves a body sent with GET unread instead of refusing it", async () => {
    const res = await raw(httpRequest(`GET /v1/collections HTTP/1.1\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nContent-Length: 8`, "not json"));
    expect(res.status).toBe(200);
  });

  it("answers 415 on the upload route for a body that is neither multipart nor JSON", async () => {
    const res = await acme.call("POST", `/v1/collections/${collectionId}/documents`, '{"text":"t"}', { "content-type": "text/plain" });
    expect([res.status, res.body.error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
  });
});

describe("requests Node's HTTP parser refuses", () => {
  it("answers a too-long URL or header block with 431 HEADERS_TOO_LARGE as JSON", async () => {
    for (const head of [`GET /v1/collections?x=${"a".repeat(20_000)} HTTP/1.1`, `GET /health HTTP/1.1\r\nX-Big: ${"b".repeat(20_000)}`]) {
      const res = await raw(httpRequest(head));
      expect(res.status).toBe(431);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.body?.error?.code).toBe("HEADERS_TOO_LARGE");
    }
  });

  it("answers malformed requests with 400 BAD_REQUEST as JSON", async () => {
    const heads = [
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
      `POST /v1/collections HTTP/1.1\r\nHost: q\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`,
      `POST /v1/collections HTTP/1.1\r\nHost: q\r\nContent-Length: abc\r\n\r\n`,
      `POST /v1/collections HTTP/1.1\r\nHost: q\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}`,
      `POST /v1/collections HTTP/1.1\r\nHost: q\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n`,
    ];
    for (const head of heads) {
      const res = await raw(head);
      expect(res.status, head).toBe(400);
      expect(res.body?.error?.code, head).toBe("BAD_REQUEST");
    }
    // A body that turns bad after the headers: the route may have answered already (here 401).
    const chunked = await raw(`POST /v1/collections HTTP/1.1\r\nHost: q\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`);
    expect(chunked.status).toBeGreaterThanOrEqual(400);
    expect(chunked.status).toBeLessThan(500);
    expect(chunked.body?.error?.code).toMatch(/^[A-Z_]+$/);
    await stillServing();
  });

  it("treats a body shorter than its Content-Length as a client that went away", async () => {
    const res = await raw(httpRequest(`POST /v1/collections HTTP/1.1\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nContent-Length: 100`, '{"name":"x"}'), { halfClose: true });
    expect(res.status ?? 400).toBeLessThan(500);
    await stillServing();
  });
});

describe("other hostile requests answer 4xx JSON, never 500", () => {
  const id = "not-a-uuid";
  const table = (): Array<[string, string, string?, unknown?]> => [
    ["GET", "/v1/documents/%E0%A4%A"],
    ["GET", "/v1/collections/%ZZ"],
    ["GET", "/v1/collections?limit=abc"],
    ["GET", "/v1/collections?limit=1&limit=2"],
    ["GET", "/v1/collections?limit=99999999999999999999999"],
    ["GET", "/v1/collections?limit=-1"],
    ["GET", "/v1/collections?cursor=a&cursor=b"],
    ["GET", "/v1/collections?cursor=!!!not-base64!!!"],
    ["GET", `/v1/collections?cursor=${"x".repeat(500)}`],
    ["GET", `/v1/collections/${collectionId}/documents?status=ready&status=failed`],
    ["GET", `/v1/collections/${collectionId}/documents?status=nope`],
    ["GET", "/v1/jobs?type=unknown&limit=0"],
    ["GET", `/v1/collections/${id}`],
    ["DELETE", `/v1/collections/${id}`],
    ["GET", `/v1/collections/${id}/documents`],
    ["POST", `/v1/collections/${id}/documents`, "json", { text: "t" }],
    ["POST", `/v1/collections/${id}/search`, "json", { query: "q" }],
    ["POST", `/v1/collections/${id}/reembed`, "json", { embedding: { provider: "local" } }],
    ["GET", `/v1/documents/${id}`],
    ["DELETE", `/v1/documents/${id}`],
    ["GET", `/v1/jobs/${id}`],
    ["GET", `/v1/jobs/${id}/events`],
    ["POST", `/v1/jobs/${id}/cancel`],
    ["POST", `/v1/jobs/${id}/retry`],
    ["GET", `/v1/chat/sessions/${id}`],
    ["POST", "/v1/chat", "json", { collection_ids: [id], message: "m" }],
    ["POST", `/v1/collections/${collectionId}/search`, "json", { query: "q", top_k: 1e308 * 10 }],
    ["POST", `/v1/collections/${collectionId}/search`, "raw", '{"query":"q","top_k":1e400}'],
    ["POST", `/v1/collections/${collectionId}/search`, "raw", '{"query":"q","top_k":"5"}'],
    ["POST", `/v1/collections/${collectionId}/search`, "raw", "[]"],
    ["POST", `/v1/collections/${collectionId}/search`, "raw", "null"],
    ["POST", `/v1/collections/${collectionId}/search`, "raw", '"just a string"'],
    ["POST", "/v1/embeddings", "raw", '{"input":[]}'],
    ["POST", "/v1/embeddings", "raw", `{"input":"${"w ".repeat(10_000)}"}`],
    ["GET", `/v1/workflows/${id}`],
    ["GET", "/v1/workflows?limit=abc"],
    ["PUT", `/v1/workflows/${id}`, "json", { name: "w", steps: [] }],
    ["DELETE", `/v1/workflows/${id}`],
    ["POST", `/v1/workflows/${id}/runs`, "json", {}],
    ["GET", `/v1/workflows/${id}/runs`],
    ["GET", `/v1/workflow-runs/${id}`],
    ["POST", "/v1/workflows", "raw", "[]"],
    ["POST", "/v1/workflows", "raw", "null"],
    ["POST", "/v1/workflows", "raw", '"just a string"'],
    ["POST", "/v1/workflows", "json", { name: "w", steps: [{ id: "a", type: "llm", with: { prompt: "{{ input..x }}" } }] }],
    ["POST", "/v1/workflows", "json", { name: "w", steps: [{ id: "a", type: "llm", with: { prompt: "p", schema: { $ref: "http://example.com/remote.json" } } }] }],
    ["POST", "/v1/workflows", "json", { name: "w", steps: Array.from({ length: 60 }, (_, i) => ({ id: `s${i}`, type: "llm", with: { prompt: "p" } })) }],
    ["POST", "/v1/workflows", "json", { name: "w", steps: [{ id: "__proto__", type: "llm", with: { prompt: "p" }, needs: ["constructor"] }] }],
    ["POST", "/v1/workflows", "json", { name: "w", input_schema: { type: "object", properties: { a: { pattern: "(" } } }, steps: [{ id: "a", type: "llm", with: { prompt: "p" } }] }],
    ["PUT", "/v1/collections"],
    ["PATCH", `/v1/collections/${collectionId}`, "json", { name: "x" }],
  ];
  it("for every row of the table", async () => {
    for (const [method, path, kind, body] of table()) {
      const res = await acme.call(method, path, kind === "raw" ? (body as string) : kind === "json" ? body : undefined);
      const label = `${method} ${path.slice(0, 80)} ${kind ? JSON.stringify(body).slice(0, 100) : ""}`;
      expect(res.status, label).toBeGreaterThanOrEqual(400);
      expect(res.status, label).toBeLessThan(500);
      expect(res.body?.error?.code, label).toMatch(/^[A-Z][A-Z0-9_]*$/);
    }
  });

  it("answers ids that are not UUIDs with 404, like another tenant's", async () => {
    const res = await acme.get("/v1/documents/%E0%A4%A");
    expect([res.status, res.body.error.code]).toEqual([400, "BAD_REQUEST"]);
    expect((await acme.get("/v1/jobs/123")).body.error.code).toBe("NOT_FOUND");
  });
});

describe("the errors table in docs/api.md", () => {
  it("lists every error code the code base can produce", () => {
    const root = new URL("../../", import.meta.url);
    const literal = /(?:new AppError\(\s*|conflict\(|unavailable\(|permanent\(|code: )[`"]([A-Z$][\w${}]*)[`"]/g;
    const codes = new Set<string>();
    for (const dir of ["api", "shared", "workers", "scheduler"]) {
      for (const file of readdirSync(new URL(dir, root), { recursive: true, encoding: "utf8" })) {
        if (!file.endsWith(".ts")) continue;
        for (const [, code] of readFileSync(new URL(`${dir}/${file}`, root), "utf8").matchAll(literal)) {
          // openai-errors.ts builds `${prefix}_…` for both providers.
          for (const prefix of code!.includes("${prefix}") ? ["EMBEDDING", "CHAT"] : [""]) codes.add(code!.replace("${prefix}", prefix));
        }
      }
    }
    expect(codes.size).toBeGreaterThan(30);
    const docs = readFileSync(new URL("docs/api.md", root), "utf8");
    expect([...codes].filter((code) => !docs.includes(`\`${code}\``)).sort()).toEqual([]);
  });
});

describe("known defects outside the api layer", () => {
  // Cursors Postgres would refuse (year 0, year 275760, "----…") used to answer 500.
  const cursor = (text: string) => Buffer.from(text).toString("base64url");
  for (const [what, text] of [
    ["a year Postgres cannot store", `+275760-09-13T00:00:00.000Z|${NIL}`],
    ["year zero", `0000-01-01T00:00:00.000Z|${NIL}`],
    ["an id of dashes", `2020-01-01T00:00:00.000Z|${"-".repeat(36)}`],
  ] as const) {
    it(`a cursor with ${what} answers 400`, async () => {
      const res = await acme.get(`/v1/collections?cursor=${cursor(text)}`);
      expect(res.status).toBe(400);
    });
  }
});
