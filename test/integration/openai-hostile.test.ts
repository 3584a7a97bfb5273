import http from "node:http";
import net from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { rawExchange } from "../helpers/raw-socket.ts";
import { TEST_KEYS } from "../helpers/test-env.ts";

/**
 * Hostile input on the OpenAI-compatible routes (/v1/files, /v1/vector_stores…): every answer is
 * a 4xx in OpenAI's error shape `{error: {message, type, param, code}}` — never a 5xx, never
 * another shape — and the server keeps answering. Each test gathers every deviation before it
 * asserts, so one run names them all.
 */

let stack: TestStack;
let store: string;
let file: string;
let batch: string;
const AUTH = `Bearer ${TEST_KEYS.acme}`;
const ZERO_STORE = `vs_${"0".repeat(32)}`;
const ZERO_FILE = `file-${"0".repeat(24)}`;
const ZERO_BATCH = `vsfb_${"0".repeat(32)}`;

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** One request exactly as given (the path is not normalised, unlike fetch's). */
function send(method: string, path: string, options: { body?: string | Buffer | object; headers?: Record<string, string>; auth?: string | null } = {}): Promise<Answer> {
  const { port, hostname } = new URL(stack.url);
  const body = options.body === undefined ? undefined : typeof options.body === "string" || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    ...(options.auth === null ? {} : { authorization: options.auth ?? AUTH }),
    ...(body !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port: Number(port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: json, text });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path.slice(0, 100)} in 10 s`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Raw bytes over a socket, read until the server closes (for what http.request refuses to send). */
async function sendRaw(request: Buffer | string, options: { halfClose?: boolean } = {}): Promise<Answer> {
  const text = (await rawExchange(stack.url, request, { ...options, timeoutMs: 10_000 })).toString("utf8");
  const match = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(text);
  let body: unknown;
  try {
    body = match ? JSON.parse(match[2]!) : undefined;
  } catch {
    body = undefined;
  }
  return { status: match ? Number(match[1]) : 0, body, text };
}

/** What is wrong with an answer that should be a 4xx in OpenAI's error shape (undefined: nothing). */
function deviation(res: Answer, expected?: number | number[]): string | undefined {
  const wanted = expected === undefined ? undefined : Array.isArray(expected) ? expected : [expected];
  if (wanted ? !wanted.includes(res.status) : res.status < 400 || res.status >= 500) return `status ${res.status} (wanted ${wanted?.join("|") ?? "4xx"}): ${res.text.slice(0, 300)}`;
  const error = res.body?.error;
  if (!error || typeof error !== "object") return `no error object: ${res.text.slice(0, 300)}`;
  const keys = Object.keys(error).sort().join(",");
  if (keys !== "code,message,param,type") return `error keys ${keys}: ${res.text.slice(0, 300)}`;
  if (typeof error.message !== "string" || error.message === "") return `message ${JSON.stringify(error.message)}`;
  if (typeof error.type !== "string" || typeof error.code !== "string") return `type/code ${JSON.stringify([error.type, error.code])}`;
  if (error.param !== null && typeof error.param !== "string") return `param ${JSON.stringify(error.param)}`;
  if (error.type !== (res.status === 429 ? "rate_limit_error" : "invalid_request_error")) return `type ${error.type} for ${res.status}`;
  return undefined;
}

/** Runs the cases and lists every deviation, then checks the server still answers. */
async function expectAll(cases: Array<{ what: string; run: () => Promise<Answer>; status?: number | number[] }>) {
  const problems: string[] = [];
  for (const c of cases) {
    let res: Answer;
    try {
      res = await c.run();
    } catch (err) {
      problems.push(`${c.what}: ${(err as Error).message}`);
      continue;
    }
    const wrong = deviation(res, c.status);
    if (wrong) problems.push(`${c.what}: ${wrong}`);
  }
  await stillServing();
  expect(problems).toEqual([]);
}

async function stillServing() {
  const res = await send("GET", `/v1/vector_stores/${store}`);
  expect(res.status).toBe(200);
  expect(res.body.id).toBe(store);
}

function multipart(parts: Array<{ name: string; value: string | Buffer; filename?: string }>, boundary = "qb0und4ry", close = true): Buffer {
  const chunks = parts.flatMap((p) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ""}\r\n${p.filename !== undefined ? "Content-Type: text/plain\r\n" : ""}\r\n`),
    Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value),
    Buffer.from("\r\n"),
  ]);
  return Buffer.concat([...chunks, Buffer.from(close ? `--${boundary}--\r\n` : "")]);
}

const uploadFile = (body: Buffer, contentType = "multipart/form-data; boundary=qb0und4ry") =>
  send("POST", "/v1/files", { body, headers: { "content-type": contentType, "content-length": String(body.length) } });

const TEXT = { name: "file", value: "hello hostile world", filename: "hello.txt" };

beforeAll(async () => {
  stack = await startTestStack({ env: { MAX_FILE_SIZE: String(64 * 1024), VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0" } });
  const created = await send("POST", "/v1/vector_stores", { body: { name: "hostile" } });
  expect(created.status).toBe(200);
  store = created.body.id;
  const uploaded = await uploadFile(multipart([TEXT, { name: "purpose", value: "assistants" }]));
  expect(uploaded.status).toBe(200);
  file = uploaded.body.id;
  // No workers: the file stays in progress, which is all these tests need.
  const attached = await send("POST", `/v1/vector_stores/${store}/files`, { body: { file_id: file } });
  expect(attached.status).toBe(200);
  const created2 = await send("POST", `/v1/vector_stores/${store}/file_batches`, { body: { file_ids: [file] } });
  expect(created2.status).toBe(200);
  batch = created2.body.id;
});

afterAll(async () => {
  await stack?.stop();
});

/** Every route, with `s`, `f` and `b` for the store, file and batch ids, and a valid body where it takes one. */
const ROUTES: Array<{ method: string; path: string; body?: (ids: { s: string; f: string; b: string }) => object }> = [
  { method: "GET", path: "/v1/files/{f}" },
  { method: "GET", path: "/v1/files/{f}/content" },
  { method: "DELETE", path: "/v1/files/{f}" },
  { method: "GET", path: "/v1/vector_stores/{s}" },
  { method: "POST", path: "/v1/vector_stores/{s}", body: () => ({ name: "renamed" }) },
  { method: "DELETE", path: "/v1/vector_stores/{s}" },
  { method: "POST", path: "/v1/vector_stores/{s}/search", body: () => ({ query: "hello" }) },
  { method: "GET", path: "/v1/vector_stores/{s}/files" },
  { method: "POST", path: "/v1/vector_stores/{s}/files", body: () => ({ file_id: ZERO_FILE }) },
  { method: "GET", path: "/v1/vector_stores/{s}/files/{f}" },
  { method: "POST", path: "/v1/vector_stores/{s}/files/{f}", body: () => ({ attributes: { a: 1 } }) },
  { method: "DELETE", path: "/v1/vector_stores/{s}/files/{f}" },
  { method: "GET", path: "/v1/vector_stores/{s}/files/{f}/content" },
  { method: "POST", path: "/v1/vector_stores/{s}/file_batches", body: () => ({ file_ids: [ZERO_FILE] }) },
  { method: "GET", path: "/v1/vector_stores/{s}/file_batches/{b}" },
  { method: "POST", path: "/v1/vector_stores/{s}/file_batches/{b}/cancel" },
  { method: "GET", path: "/v1/vector_stores/{s}/file_batches/{b}/files" },
];

/** Ids no object has: each route answers 404 (or 400 for a path that cannot be decoded). */
const BAD_IDS: Array<{ id: string; status: number | number[] }> = [
  { id: "nope", status: 404 },
  { id: ZERO_STORE, status: 404 },
  { id: ZERO_FILE, status: 404 },
  { id: ZERO_BATCH, status: 404 },
  { id: `VS_${"A".repeat(32)}`, status: 404 },
  { id: `file-${"0".repeat(23)}G`, status: 404 },
  { id: "%00", status: 404 },
  { id: `vs_${"0".repeat(31)}%00`, status: 404 },
  { id: "..%2F..%2Fetc%2Fpasswd", status: 404 },
  { id: "%2E%2E", status: 404 },
  { id: "a".repeat(6000), status: 404 },
  { id: encodeURIComponent("vs_ünïcødé😀"), status: 404 },
  { id: encodeURIComponent("\u202e\ufeff\u200b"), status: 404 },
  { id: encodeURIComponent("' OR '1'='1"), status: 404 },
  { id: encodeURIComponent("{\"$ne\":null}"), status: 404 },
  { id: "__proto__", status: 404 },
  { id: "constructor", status: 404 },
  { id: "%ff%fe", status: [400, 404] },
  { id: "%E0%A4%A", status: 400 },
  { id: "%", status: 400 },
  { id: "%ED%A0%80", status: [400, 404] },
];

describe("the OpenAI-compatible routes under hostile input", () => {
  it("answers 404 (OpenAI's shape) for unknown ids of every shape on every route", async () => {
    const cases = BAD_IDS.flatMap(({ id, status }) =>
      ROUTES.flatMap((route) =>
        (["s", "f", "b"] as const)
          .filter((slot) => route.path.includes(`{${slot}}`))
          .map((slot) => {
            const ids = { s: store, f: file, b: batch, [slot]: id };
            const path = route.path.replace("{s}", ids.s).replace("{f}", ids.f).replace("{b}", ids.b);
            return { what: `${route.method} ${route.path} ${slot}=${id.slice(0, 40)}`, status, run: () => send(route.method, path, { body: route.body?.(ids) }) };
          }),
      ),
    );
    // Raw paths a browser or fetch would normalise.
    for (const path of ["/v1/files/../../etc/passwd", "/v1/vector_stores/../vector_stores/x", "/v1/vector_stores/./x", "/v1/files//content", "/v1/vector_stores//files"]) {
      cases.push({ what: `raw GET ${path}`, status: 404, run: () => sendRaw(`GET ${path} HTTP/1.1\r\nHost: quarry\r\nAuthorization: ${AUTH}\r\nConnection: close\r\n\r\n`) });
    }
    // Unknown ids inside bodies.
    for (const id of ["nope", ZERO_FILE, "a".repeat(100), encodeURIComponent("ü")]) {
      cases.push({ what: `attach file_id=${id.slice(0, 20)}`, status: 404, run: () => send("POST", `/v1/vector_stores/${store}/files`, { body: { file_id: id } }) });
      cases.push({ what: `batch file_ids=[${id.slice(0, 20)}]`, status: 404, run: () => send("POST", `/v1/vector_stores/${store}/file_batches`, { body: { file_ids: [file, id] } }) });
      cases.push({ what: `create store file_ids=[${id.slice(0, 20)}]`, status: 404, run: () => send("POST", "/v1/vector_stores", { body: { file_ids: [id] } }) });
    }
    await expectAll(cases);
    // Nothing was deleted or renamed on the way.
    expect((await send("GET", `/v1/vector_stores/${store}`)).body).toMatchObject({ name: "hostile", file_counts: { total: 1 } });
    expect((await send("GET", `/v1/files/${file}`)).status).toBe(200);
  });

  it("answers a URL too long for the HTTP parser (431) in OpenAI's shape", async () => {
    // Expected: Node's parser refuses it (431) before Express sees it; the answer should still be
    // {error: {message, type, param, code}} (api/middleware/client-error.ts writes {code, message} only).
    await expectAll([{ what: "GET /v1/files/<20 KB>", status: 431, run: () => send("GET", `/v1/files/${"a".repeat(20_000)}`) }]);
  });

  it("answers 400/415/413 for malformed, mistyped, huge and deep JSON bodies", async () => {
    const posts = [
      "/v1/vector_stores",
      `/v1/vector_stores/${store}`,
      `/v1/vector_stores/${store}/search`,
      `/v1/vector_stores/${store}/files`,
      `/v1/vector_stores/${store}/files/${file}`,
      `/v1/vector_stores/${store}/file_batches`,
      `/v1/vector_stores/${store}/file_batches/${batch}/cancel`,
    ];
    const bodies: Array<{ what: string; body: string | Buffer; headers?: Record<string, string>; status: number | number[]; only?: RegExp; except?: RegExp }> = [
      { what: "{", body: "{", status: 400 },
      { what: "trailing comma", body: '{"name":"x",}', status: 400 },
      { what: "unquoted key", body: "{name: 1}", status: 400 },
      { what: "null", body: "null", status: 400 },
      { what: "string", body: '"hello"', status: 400 },
      { what: "number", body: "42", status: 400 },
      { what: "NaN", body: '{"max_num_results": NaN}', status: 400 },
      // Invalid UTF-8 in a string: refused, or read with U+FFFD in place (a query that finds nothing).
      { what: "bad utf-8", body: Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]), status: [200, 400], only: /\/search$/ },
      // Valid JSON behind a byte order mark, with fields of the wrong types: refused either way.
      { what: "BOM", body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":5,"query":5,"file_id":5,"file_ids":5,"attributes":5}')]), status: 400, except: /\/cancel$/ },
      { what: "deep arrays", body: "[".repeat(50_000) + "]".repeat(50_000), status: 400 },
      { what: "deep object", body: '{"a":'.repeat(5_000) + "1" + "}".repeat(5_000), status: 400 },
      { what: "1 MB", body: JSON.stringify({ name: "x".repeat(1024 * 1024) }), status: 413 },
      { what: "text/plain", body: '{"name":"x"}', headers: { "content-type": "text/plain" }, status: 415 },
      { what: "form", body: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" }, status: 415 },
      { what: "latin1 charset", body: '{"name":"x"}', headers: { "content-type": "application/json; charset=latin1" }, status: 415 },
      { what: "bad gzip", body: Buffer.from("not gzip at all"), headers: { "content-encoding": "gzip" }, status: 400 },
      { what: "gzip bomb", body: gzipSync(Buffer.from(JSON.stringify({ name: "x".repeat(20 * 1024 * 1024) }))), headers: { "content-encoding": "gzip" }, status: 413 },
      { what: "unknown encoding", body: '{"name":"x"}', headers: { "content-encoding": "zstd-ish" }, status: 415 },
    ];
    const cases = posts.flatMap((path) =>
      bodies
        .filter((b) => (!b.only || b.only.test(path)) && !b.except?.test(path))
        .map((b) => ({
          what: `POST ${path.replace(store, ":s").replace(file, ":f").replace(batch, ":b")} ${b.what}`,
          status: b.status,
          run: async () => {
            const res = await send("POST", path, { body: b.body, headers: b.headers });
            // A search that read the body answers a page, not an error.
            return res.status === 200 && res.body?.object === "vector_store.search_results.page"
              ? { ...res, body: { error: { message: "ok", type: "invalid_request_error", code: "ok", param: null } } }
              : res;
          },
        })),
    );
    // A body cut short of its Content-Length, the client gone: Node's parser answers 400 if it can
    // (in the shape the HTTP parser's errors have, see the 431 test above), and nothing breaks.
    const cut = await sendRaw(
      `POST /v1/vector_stores HTTP/1.1\r\nHost: quarry\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"name":"x"}`,
      { halfClose: true },
    );
    expect([0, 400], cut.text).toContain(cut.status);
    await expectAll(cases);
  });

  it("answers 400 for wrong types and out-of-range values in every body", async () => {
    const at = (path: string) => path.replace(":s", store).replace(":f", file);
    const bad: Array<[string, unknown]> = [
      // Create and update a store.
      ["/v1/vector_stores", { name: 123 }],
      ["/v1/vector_stores", { name: "x".repeat(257) }],
      ["/v1/vector_stores", { name: ["x"] }],
      ["/v1/vector_stores", { description: "x".repeat(513) }],
      ["/v1/vector_stores", { metadata: "x" }],
      ["/v1/vector_stores", { metadata: ["x"] }],
      ["/v1/vector_stores", { metadata: { a: 1 } }],
      ["/v1/vector_stores", { metadata: { a: { b: "c" } } }],
      ["/v1/vector_stores", { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) }],
      ["/v1/vector_stores", { metadata: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, "v"])) }],
      ["/v1/vector_stores", { metadata: { ["k".repeat(65)]: "v" } }],
      ["/v1/vector_stores", { metadata: { "": "v" } }],
      ["/v1/vector_stores", { metadata: { k: "v".repeat(513) } }],
      ["/v1/vector_stores", { expires_after: { anchor: "created_at", days: 1 } }],
      ["/v1/vector_stores", { expires_after: { anchor: "last_active_at", days: 0 } }],
      ["/v1/vector_stores", { expires_after: { anchor: "last_active_at", days: 366 } }],
      ["/v1/vector_stores", { expires_after: { anchor: "last_active_at", days: 1.5 } }],
      ["/v1/vector_stores", { expires_after: { anchor: "last_active_at", days: "7" } }],
      ["/v1/vector_stores", { expires_after: { anchor: "last_active_at", days: 1e308 } }],
      ["/v1/vector_stores", { expires_after: "7 days" }],
      ["/v1/vector_stores", { file_ids: "file-x" }],
      ["/v1/vector_stores", { file_ids: [1, 2] }],
      ["/v1/vector_stores", { file_ids: [null] }],
      ["/v1/vector_stores", { file_ids: [""] }],
      ["/v1/vector_stores", { file_ids: ["x".repeat(101)] }],
      ["/v1/vector_stores", { file_ids: Array.from({ length: 501 }, () => ZERO_FILE) }],
      ["/v1/vector_stores", { chunking_strategy: { type: "static" } }],
      ["/v1/vector_stores", { chunking_strategy: { type: "other" } }],
      ["/v1/vector_stores", { chunking_strategy: "auto" }],
      ["/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 99, chunk_overlap_tokens: 0 } } }],
      ["/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 4097, chunk_overlap_tokens: 0 } } }],
      ["/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: "800", chunk_overlap_tokens: 0 } } }],
      ["/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: -1 } } }],
      ["/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 401 } } }],
      ["/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 800.5, chunk_overlap_tokens: 0 } } }],
      ["/v1/vector_stores/:s", { name: 1 }],
      ["/v1/vector_stores/:s", { metadata: { a: true } }],
      ["/v1/vector_stores/:s", { expires_after: { anchor: "last_active_at" } }],
      // Search.
      ["/v1/vector_stores/:s/search", {}],
      ["/v1/vector_stores/:s/search", { query: 5 }],
      ["/v1/vector_stores/:s/search", { query: null }],
      ["/v1/vector_stores/:s/search", { query: "" }],
      ["/v1/vector_stores/:s/search", { query: [] }],
      ["/v1/vector_stores/:s/search", { query: [""] }],
      ["/v1/vector_stores/:s/search", { query: [1] }],
      ["/v1/vector_stores/:s/search", { query: Array.from({ length: 11 }, () => "q") }],
      ["/v1/vector_stores/:s/search", { query: Array.from({ length: 5000 }, () => "q") }],
      ["/v1/vector_stores/:s/search", { query: "q".repeat(4097) }],
      ["/v1/vector_stores/:s/search", { query: { text: "q" } }],
      ["/v1/vector_stores/:s/search", { query: "q", max_num_results: 0 }],
      ["/v1/vector_stores/:s/search", { query: "q", max_num_results: 51 }],
      ["/v1/vector_stores/:s/search", { query: "q", max_num_results: -1 }],
      ["/v1/vector_stores/:s/search", { query: "q", max_num_results: 2.5 }],
      ["/v1/vector_stores/:s/search", { query: "q", max_num_results: "10" }],
      ["/v1/vector_stores/:s/search", { query: "q", max_num_results: 1e300 }],
      ["/v1/vector_stores/:s/search", { query: "q", ranking_options: { score_threshold: 1.5 } }],
      ["/v1/vector_stores/:s/search", { query: "q", ranking_options: { score_threshold: -0.1 } }],
      ["/v1/vector_stores/:s/search", { query: "q", ranking_options: { score_threshold: "0.5" } }],
      ["/v1/vector_stores/:s/search", { query: "q", ranking_options: { ranker: "best" } }],
      ["/v1/vector_stores/:s/search", { query: "q", ranking_options: "auto" }],
      ["/v1/vector_stores/:s/search", { query: "q", rewrite_query: "yes" }],
      // Attach a file.
      ["/v1/vector_stores/:s/files", {}],
      ["/v1/vector_stores/:s/files", { file_id: 1 }],
      ["/v1/vector_stores/:s/files", { file_id: "" }],
      ["/v1/vector_stores/:s/files", { file_id: ["x"] }],
      ["/v1/vector_stores/:s/files", { file_id: ZERO_FILE, attributes: "x" }],
      ["/v1/vector_stores/:s/files", { file_id: ZERO_FILE, attributes: { a: null } }],
      ["/v1/vector_stores/:s/files", { file_id: ZERO_FILE, attributes: { a: [1] } }],
      ["/v1/vector_stores/:s/files", { file_id: ZERO_FILE, attributes: { a: { b: 1 } } }],
      ["/v1/vector_stores/:s/files", { file_id: ZERO_FILE, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 51 } } }],
      // Update a file's attributes.
      ["/v1/vector_stores/:s/files/:f", {}],
      ["/v1/vector_stores/:s/files/:f", { attributes: "x" }],
      ["/v1/vector_stores/:s/files/:f", { attributes: [1, 2] }],
      ["/v1/vector_stores/:s/files/:f", { attributes: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])) }],
      ["/v1/vector_stores/:s/files/:f", { attributes: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])) }],
      ["/v1/vector_stores/:s/files/:f", { attributes: { ["k".repeat(65)]: 1 } }],
      ["/v1/vector_stores/:s/files/:f", { attributes: { "": 1 } }],
      ["/v1/vector_stores/:s/files/:f", { attributes: { k: "v".repeat(513) } }],
      ["/v1/vector_stores/:s/files/:f", { attributes: { k: { nested: true } } }],
      // Batches.
      ["/v1/vector_stores/:s/file_batches", {}],
      ["/v1/vector_stores/:s/file_batches", { file_ids: [] }],
      ["/v1/vector_stores/:s/file_batches", { files: [] }],
      ["/v1/vector_stores/:s/file_batches", { file_ids: [ZERO_FILE], files: [{ file_id: ZERO_FILE }] }],
      ["/v1/vector_stores/:s/file_batches", { files: [{}] }],
      ["/v1/vector_stores/:s/file_batches", { files: [ZERO_FILE] }],
      ["/v1/vector_stores/:s/file_batches", { files: [{ file_id: ZERO_FILE, attributes: { a: [] } }] }],
      ["/v1/vector_stores/:s/file_batches", { files: Array.from({ length: 501 }, () => ({ file_id: ZERO_FILE })) }],
      ["/v1/vector_stores/:s/file_batches", { file_ids: [ZERO_FILE], attributes: "x" }],
    ];
    await expectAll(bad.map(([path, body]) => ({ what: `POST ${path} ${JSON.stringify(body).slice(0, 120)}`, status: 400, run: () => send("POST", at(path), { body: body as object }) })));
  });

  it("refuses NUL characters and lone surrogates in names, metadata, attributes, queries and ids", async () => {
    const NUL = "a\u0000b";
    const LONE = "a\ud800b";
    const at = (path: string) => path.replace(":s", store).replace(":f", file);
    const bad: Array<[string, unknown, number | number[]]> = [];
    for (const s of [NUL, LONE]) {
      bad.push(
        ["/v1/vector_stores", { name: s }, 400],
        ["/v1/vector_stores", { description: s }, 400],
        ["/v1/vector_stores", { metadata: { [s]: "v" } }, 400],
        ["/v1/vector_stores", { metadata: { k: s } }, 400],
        ["/v1/vector_stores/:s", { name: s }, 400],
        ["/v1/vector_stores/:s", { metadata: { k: s } }, 400],
        ["/v1/vector_stores/:s/search", { query: s }, 400],
        ["/v1/vector_stores/:s/search", { query: ["ok", s] }, 400],
        ["/v1/vector_stores/:s/files/:f", { attributes: { [s]: 1 } }, 400],
        ["/v1/vector_stores/:s/files/:f", { attributes: { k: s } }, 400],
        ["/v1/vector_stores/:s/files", { file_id: ZERO_FILE, attributes: { k: s } }, 400],
        ["/v1/vector_stores/:s/file_batches", { file_ids: [file], attributes: { k: s } }, 400],
        // Ids are looked up in Postgres: one it cannot hold names nothing (404) or is refused (400).
        ["/v1/vector_stores", { file_ids: [s] }, [400, 404]],
        ["/v1/vector_stores", { file_ids: [`file-${"0".repeat(23)}\u0000`] }, [400, 404]],
        ["/v1/vector_stores/:s/files", { file_id: s }, [400, 404]],
        ["/v1/vector_stores/:s/file_batches", { file_ids: [s] }, [400, 404]],
        ["/v1/vector_stores/:s/file_batches", { files: [{ file_id: s }] }, [400, 404]],
        // A filter only compares: such a key or value matches nothing (200) or is refused (400).
        ["/v1/vector_stores/:s/search", { query: "q", filters: { type: "eq", key: s, value: 1 } }, [200, 400]],
        ["/v1/vector_stores/:s/search", { query: "q", filters: { type: "eq", key: "k", value: s } }, [200, 400]],
        ["/v1/vector_stores/:s/search", { query: "q", filters: { type: "in", key: "k", value: [s] } }, [200, 400]],
      );
    }
    await expectAll(
      bad.map(([path, body, status]) => ({
        what: `POST ${path} ${JSON.stringify(body)}`,
        status,
        run: async () => {
          const res = await send("POST", at(path), { body: body as object });
          return res.status === 200 ? { ...res, body: { error: { message: "ok", type: "invalid_request_error", code: "ok", param: null } } } : res;
        },
      })),
    );
    // Nothing was stored.
    expect((await send("GET", `/v1/vector_stores/${store}`)).body).toMatchObject({ name: "hostile", metadata: {} });
    expect((await send("GET", `/v1/vector_stores/${store}/files/${file}`)).body.attributes).toEqual({});
  });

  it("answers 400 for multipart uploads without a file or purpose, with a wrong purpose, empty, doubled or truncated", async () => {
    const purpose = { name: "purpose", value: "assistants" };
    const cases: Array<{ what: string; status: number | number[]; run: () => Promise<Answer> }> = [
      { what: "JSON instead of multipart", status: [400, 415], run: () => send("POST", "/v1/files", { body: { purpose: "assistants" } }) },
      { what: "no body", status: 400, run: () => send("POST", "/v1/files") },
      { what: "no file", status: 400, run: () => uploadFile(multipart([purpose])) },
      { what: "no purpose", status: 400, run: () => uploadFile(multipart([TEXT])) },
      { what: "wrong purpose", status: 400, run: () => uploadFile(multipart([TEXT, { name: "purpose", value: "fine-tuning" }])) },
      { what: "purpose with NUL", status: 400, run: () => uploadFile(multipart([TEXT, { name: "purpose", value: "assistants\u0000" }])) },
      { what: "empty purpose", status: 400, run: () => uploadFile(multipart([TEXT, { name: "purpose", value: "" }])) },
      { what: "empty file", status: 400, run: () => uploadFile(multipart([{ name: "file", value: "", filename: "empty.txt" }, purpose])) },
      { what: "two files", status: 400, run: () => uploadFile(multipart([TEXT, { ...TEXT, filename: "second.txt" }, purpose])) },
      { what: "file under another name", status: 400, run: () => uploadFile(multipart([{ ...TEXT, name: "document" }, purpose])) },
      { what: "file as a plain field", status: 400, run: () => uploadFile(multipart([{ name: "file", value: "not a file" }, purpose])) },
      { what: "NUL in the file name", status: 400, run: () => uploadFile(multipart([{ ...TEXT, filename: "a\u0000b.txt" }, purpose])) },
      { what: "too large", status: 413, run: () => uploadFile(multipart([{ ...TEXT, value: Buffer.alloc(70 * 1024, "x") }, purpose])) },
      { what: "truncated inside the file", status: 400, run: () => { const whole = multipart([purpose, { ...TEXT, value: "a file cut off half way" }]); return uploadFile(whole.subarray(0, whole.indexOf("half"))); } },
      { what: "no closing boundary", status: 400, run: () => uploadFile(multipart([TEXT, purpose], "qb0und4ry", false)) },
      { what: "no boundary in the Content-Type", status: 400, run: () => uploadFile(multipart([TEXT, purpose]), "multipart/form-data") },
      { what: "another boundary", status: 400, run: () => uploadFile(multipart([TEXT, purpose]), "multipart/form-data; boundary=other") },
      { what: "garbage", status: 400, run: () => uploadFile(Buffer.from("\x00\x01garbage\r\n\r\n--")) },
      { what: "expires_after[seconds] not a number", status: 400, run: () => uploadFile(multipart([TEXT, purpose, { name: "expires_after[seconds]", value: "soon" }])) },
      { what: "expires_after[seconds] too small", status: 400, run: () => uploadFile(multipart([TEXT, purpose, { name: "expires_after[seconds]", value: "10" }])) },
      { what: "expires_after[seconds] too large", status: 400, run: () => uploadFile(multipart([TEXT, purpose, { name: "expires_after[seconds]", value: "1e99" }])) },
      { what: "expires_after[anchor] wrong", status: 400, run: () => uploadFile(multipart([TEXT, purpose, { name: "expires_after[anchor]", value: "last_active_at" }])) },
      { what: "too many fields", status: 400, run: () => uploadFile(multipart([TEXT, purpose, ...Array.from({ length: 25 }, (_, i) => ({ name: `f${i}`, value: "v" }))])) },
      { what: "a field over 64 KB", status: [400, 413], run: () => uploadFile(multipart([{ name: "purpose", value: "a".repeat(65 * 1024) }, TEXT])) },
      { what: "a huge part header", status: 400, run: () => uploadFile(Buffer.from(`--qb0und4ry\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nX: ${"y".repeat(20_000)}\r\n\r\nhello\r\n--qb0und4ry--\r\n`)) },
      { what: "text/plain", status: [400, 415], run: () => send("POST", "/v1/files", { body: "hello", headers: { "content-type": "text/plain" } }) },
    ];
    await expectAll(cases);
    // A client that disconnects in the middle of the file leaves the server serving.
    const whole = multipart([purpose, { ...TEXT, value: Buffer.alloc(32 * 1024, "x") }]);
    const socket = net.connect(Number(new URL(stack.url).port), "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write(`POST /v1/files HTTP/1.1\r\nHost: quarry\r\nAuthorization: ${AUTH}\r\nContent-Type: multipart/form-data; boundary=qb0und4ry\r\nContent-Length: ${whole.length}\r\n\r\n`);
    socket.write(whole.subarray(0, 10_000));
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await stillServing();
    // Only the setup's file was stored.
    const files = await send("GET", "/v1/files");
    expect(files.body.data.map((f: { id: string }) => f.id)).toEqual([file]);
  });

  it("answers 400 for bad limit, order, after, before, filter and purpose query values", async () => {
    // Expected: OpenAI's error shape on /v1/files?… and /v1/vector_stores?… as on their sub-paths,
    // and a cursor or purpose holding NUL refused (400) before it reaches Postgres, never a 500.
    const lists = ["/v1/files", "/v1/vector_stores", `/v1/vector_stores/${store}/files`, `/v1/vector_stores/${store}/file_batches/${batch}/files`];
    const queries: Array<[string, number | number[]]> = [
      ["limit=0", 400],
      ["limit=-1", 400],
      ["limit=abc", 400],
      ["limit=1.5", 400],
      ["limit=", [200, 400]],
      ["limit=1e400", 400],
      ["limit=99999999999999999999", 400],
      ["limit=1&limit=2", 400],
      ["limit[]=1", [200, 400]],
      ["order=ASC", 400],
      ["order=random", 400],
      ["order=asc&order=desc", 400],
      [`after=${ZERO_STORE}`, 400],
      [`after=${ZERO_FILE}`, 400],
      ["after=%00", [400, 404]],
      [`after=${"x".repeat(101)}`, 400],
      [`after=${"x".repeat(5000)}`, 400],
      ["after=%ED%A0%80", [400, 404]],
      ["after=a&after=b", 400],
      [`before=${ZERO_STORE}`, [200, 400]],
      ["before=%00", [200, 400, 404]],
      ["filter=bogus", [200, 400]],
      ["filter=%00", [200, 400]],
      ["purpose=%00", [200, 400]],
      [`purpose=${"p".repeat(51)}`, [200, 400]],
      ["%00=1", [200, 400]],
      ["__proto__[limit]=0", [200, 400]],
      ["constructor=1&hasOwnProperty=1", [200, 400]],
    ];
    const cases = lists.flatMap((list) =>
      queries.map(([query, status]) => ({
        what: `GET ${list.replace(store, ":s").replace(batch, ":b")}?${query.slice(0, 60)}`,
        status,
        run: async () => {
          const res = await send("GET", `${list}?${query}`);
          // An ignored parameter lists as usual.
          if (res.status === 200) return Array.isArray(res.body?.data) ? { ...res, body: { error: { message: "ok", type: "invalid_request_error", code: "ok", param: null } } } : res;
          return res;
        },
      })),
    );
    await expectAll(cases);
  });

  it("answers 400 for filters nested too deep, too wide or of the wrong types", async () => {
    const leaf = { type: "eq", key: "k", value: 1 };
    const nest = (depth: number): object => (depth === 0 ? leaf : { type: "and", filters: [nest(depth - 1)] });
    const bad: unknown[] = [
      nest(6),
      nest(20),
      {},
      [],
      "eq",
      { type: "eq" },
      { type: "eq", key: "k" },
      { type: "eq", value: 1 },
      { type: "eq", key: "", value: 1 },
      { type: "eq", key: "k".repeat(65), value: 1 },
      { type: "eq", key: 1, value: 1 },
      { type: "eq", key: "k", value: null },
      { type: "eq", key: "k", value: { a: 1 } },
      { type: "eq", key: "k", value: [1] },
      { type: "gt", key: "k", value: [1, 2] },
      { type: "in", key: "k", value: 1 },
      { type: "in", key: "k", value: [] },
      { type: "in", key: "k", value: [true] },
      { type: "in", key: "k", value: [null] },
      { type: "in", key: "k", value: [[1]] },
      { type: "nin", key: "k", value: Array.from({ length: 1001 }, (_, i) => i) },
      { type: "eq", key: "k", value: "v".repeat(513) },
      { type: "regex", key: "k", value: ".*" },
      { type: "and" },
      { type: "and", filters: [] },
      { type: "and", filters: leaf },
      { type: "or", filters: [leaf, "x"] },
      { type: "or", filters: [leaf, null] },
      { type: "or", filters: Array.from({ length: 33 }, () => leaf) },
      { type: "not", filters: [leaf] },
      { type: "and", filters: [{ type: "and", filters: [] }] },
    ];
    const cases = bad.map((filters) => ({
      what: `filters ${JSON.stringify(filters).slice(0, 100)}`,
      status: 400,
      run: () => send("POST", `/v1/vector_stores/${store}/search`, { body: { query: "q", filters } }),
    }));
    await expectAll(cases);
    // The limits themselves are fine.
    for (const filters of [nest(5), { type: "or", filters: Array.from({ length: 32 }, () => leaf) }, { type: "nin", key: "k", value: Array.from({ length: 100 }, (_, i) => i) }]) {
      const res = await send("POST", `/v1/vector_stores/${store}/search`, { body: { query: "q", filters } });
      expect(res.status, JSON.stringify(filters).slice(0, 100)).toBe(200);
      expect(res.body.data).toEqual([]);
    }
  });

  it("answers unknown routes, methods and missing or bad keys in OpenAI's shape", async () => {
    await expectAll([
      { what: "PUT a store", status: 404, run: () => send("PUT", `/v1/vector_stores/${store}`, { body: {} }) },
      { what: "PATCH a file", status: 404, run: () => send("PATCH", `/v1/files/${file}`, { body: {} }) },
      { what: "GET search", status: 404, run: () => send("GET", `/v1/vector_stores/${store}/search`) },
      { what: "DELETE the list", status: 404, run: () => send("DELETE", "/v1/vector_stores") },
      { what: "unknown sub-resource", status: 404, run: () => send("GET", `/v1/vector_stores/${store}/chunks`) },
      { what: "no key", status: 401, run: () => send("GET", "/v1/vector_stores", { auth: null }) },
      { what: "no key, with a query", status: 401, run: () => send("GET", "/v1/files?limit=1", { auth: null }) },
      { what: "Basic auth", status: 401, run: () => send("GET", "/v1/files", { auth: "Basic YTpi" }) },
      { what: "empty bearer", status: 401, run: () => send("GET", "/v1/files", { auth: "Bearer " }) },
      { what: "wrong key", status: 401, run: () => send("POST", `/v1/vector_stores/${store}/search`, { auth: "Bearer nope", body: { query: "q" } }) },
      { what: "a huge key", status: 401, run: () => send("GET", "/v1/files", { auth: `Bearer ${"k".repeat(8000)}` }) },
      { what: "an upload with a wrong key", status: 401, run: () => send("POST", "/v1/files", { auth: "Bearer nope", body: multipart([TEXT]), headers: { "content-type": "multipart/form-data; boundary=qb0und4ry" } }) },
    ]);
  });

  it("survives concurrent attaches, batches and deletes of the same objects", async () => {
    const upload = async (name: string) => {
      const res = await uploadFile(multipart([{ name: "file", value: `racing ${name}`, filename: `${name}.txt` }, { name: "purpose", value: "assistants" }]));
      expect(res.status).toBe(200);
      return res.body.id as string;
    };
    const problems: string[] = [];
    const check = (what: string, res: Answer, allowed: number[]) => {
      if (!allowed.includes(res.status)) problems.push(`${what}: ${res.status} ${res.text.slice(0, 200)}`);
      else if (res.status >= 400 && deviation(res, allowed)) problems.push(`${what}: ${deviation(res, allowed)}`);
    };
    const racer = await send("POST", "/v1/vector_stores", { body: { name: "racer" } });
    const racing = racer.body.id as string;

    // The same file attached eight times at once: one vector store file.
    const same = await upload("same");
    const attaches = await Promise.all(Array.from({ length: 8 }, () => send("POST", `/v1/vector_stores/${racing}/files`, { body: { file_id: same } })));
    attaches.forEach((res, i) => check(`attach #${i}`, res, [200]));
    expect(new Set(attaches.map((r) => r.body?.id))).toEqual(new Set([same]));
    const batches = await Promise.all(Array.from({ length: 4 }, () => send("POST", `/v1/vector_stores/${racing}/file_batches`, { body: { file_ids: [same, file] } })));
    batches.forEach((res, i) => check(`batch #${i}`, res, [200]));
    for (const res of batches) expect(res.body?.file_counts?.total).toBe(2);
    expect((await send("GET", `/v1/vector_stores/${racing}`)).body.file_counts.total).toBe(2);

    // A file deleted while it is being attached: afterwards no store lists it.
    for (let round = 0; round < 5; round++) {
      const doomed = await upload(`doomed-${round}`);
      const answers = await Promise.all([
        send("POST", `/v1/vector_stores/${racing}/files`, { body: { file_id: doomed } }),
        send("POST", `/v1/vector_stores/${racing}/file_batches`, { body: { file_ids: [doomed] } }),
        send("DELETE", `/v1/files/${doomed}`),
        send("POST", `/v1/vector_stores/${racing}/files`, { body: { file_id: doomed } }),
      ]);
      answers.forEach((res, i) => check(`round ${round} #${i}`, res, [200, 404]));
      expect(answers[2]!.status).toBe(200);
      const listed = await send("GET", `/v1/vector_stores/${racing}/files?limit=100`);
      // Expected: deleting a file removes it from every store, even one it was being attached to at that moment.
      if (listed.body.data.some((f: { id: string }) => f.id === doomed)) problems.push(`round ${round}: the deleted file ${doomed} is still listed in the store`);
    }

    // A store deleted while files are attached to it: afterwards it is gone.
    for (let round = 0; round < 3; round++) {
      const doomedStore = (await send("POST", "/v1/vector_stores", { body: { name: `doomed-${round}` } })).body.id as string;
      const answers = await Promise.all([
        send("POST", `/v1/vector_stores/${doomedStore}/files`, { body: { file_id: same } }),
        send("DELETE", `/v1/vector_stores/${doomedStore}`),
        send("POST", `/v1/vector_stores/${doomedStore}/file_batches`, { body: { file_ids: [same, file] } }),
        send("POST", `/v1/vector_stores/${doomedStore}/search`, { body: { query: "racing" } }),
      ]);
      answers.forEach((res, i) => check(`store round ${round} #${i}`, res, [200, 404, 409]));
      expect(answers[1]!.status).toBe(200);
      expect((await send("GET", `/v1/vector_stores/${doomedStore}`)).status).toBe(404);
    }
    // A file deleted while a store it is in is being deleted: the store's deletion takes the
    // file's document, and the file's deletion leaves it alone rather than answering 404 or
    // recording a second deletion (this stack runs no worker, so the store stays `deleting`).
    {
      const shared = await upload("shared");
      const going = (await send("POST", "/v1/vector_stores", { body: { name: "going" } })).body.id as string;
      expect((await send("POST", `/v1/vector_stores/${going}/files`, { body: { file_id: shared } })).status).toBe(200);
      expect((await send("DELETE", `/v1/vector_stores/${going}`)).status).toBe(200);
      const deleted = await send("DELETE", `/v1/files/${shared}`);
      expect(deleted.status, deleted.text).toBe(200);
      const { rows } = await stack.deps.db.query(
        `SELECT j.type FROM jobs j JOIN documents d ON d.id = j.resource_id WHERE d.file_id = $1`,
        [shared],
      );
      expect(rows.map((r) => r.type)).toEqual(["ingest_document"]);
    }
    // A file deleted while it is being removed from a store: the file's deletion answers 200.
    for (let round = 0; round < 5; round++) {
      const detached = await upload(`detached-${round}`);
      check(`detach round ${round} attach`, await send("POST", `/v1/vector_stores/${racing}/files`, { body: { file_id: detached } }), [200]);
      const [detach, fileGone] = await Promise.all([send("DELETE", `/v1/vector_stores/${racing}/files/${detached}`), send("DELETE", `/v1/files/${detached}`)]);
      check(`detach round ${round} detach`, detach, [200, 404]);
      check(`detach round ${round} delete file`, fileGone, [200]);
    }
    for (let round = 0; round < 3; round++) {
      const shared = await upload(`shared-${round}`);
      const going = (await send("POST", "/v1/vector_stores", { body: { name: `going-${round}` } })).body.id as string;
      check(`shared round ${round} attach`, await send("POST", `/v1/vector_stores/${going}/files`, { body: { file_id: shared } }), [200]);
      const [storeGone, fileGone] = await Promise.all([send("DELETE", `/v1/vector_stores/${going}`), send("DELETE", `/v1/files/${shared}`)]);
      check(`shared round ${round} delete store`, storeGone, [200]);
      check(`shared round ${round} delete file`, fileGone, [200]);
    }
    await stillServing();
    // Leave the store list as the last test expects it.
    expect((await send("DELETE", `/v1/vector_stores/${racing}`)).status).toBe(200);
    expect(problems).toEqual([]);
  });

  it("replays an Idempotency-Key's answer for the same request and refuses it for another", async () => {
    const key = (name: string) => ({ "idempotency-key": `hostile-${name}-${Date.now()}` });
    // JSON routes.
    const k1 = key("store");
    const a = await send("POST", "/v1/vector_stores", { body: { name: "idem" }, headers: k1 });
    const b = await send("POST", "/v1/vector_stores", { body: { name: "idem" }, headers: k1 });
    expect(a.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    const other = await send("POST", "/v1/vector_stores", { body: { name: "idem-2" }, headers: k1 });
    expect(deviation(other, 409)).toBeUndefined();
    const problems: string[] = [];
    for (const bad of ["", " ", "k".repeat(256), "ключ", "a\tb"]) {
      const res = await send("POST", "/v1/vector_stores", { body: { name: "x" }, headers: { "idempotency-key": bad } }).catch((e: Error) => ({ status: 0, body: undefined, text: e.message }));
      // An empty key may be read as none (200); anything else malformed is a 400.
      if (res.status === 200) {
        if (bad !== "") problems.push(`key ${JSON.stringify(bad)}: 200`);
        await send("DELETE", `/v1/vector_stores/${res.body.id}`);
      } else if (res.status !== 0 && deviation(res, 400)) problems.push(`key ${JSON.stringify(bad)}: ${deviation(res, 400)}`);
    }
    expect((await send("DELETE", `/v1/vector_stores/${a.body.id}`)).status).toBe(200);

    // Uploads: the same bytes replay; other bytes (even of the same name and size) are another request.
    const k2 = key("upload");
    const up = (content: string, extra: Array<{ name: string; value: string }> = []) =>
      send("POST", "/v1/files", {
        body: multipart([{ name: "file", value: content, filename: "same.txt" }, { name: "purpose", value: "assistants" }, ...extra]),
        headers: { "content-type": "multipart/form-data; boundary=qb0und4ry", ...k2 },
      });
    const first = await up("aaaa");
    expect(first.status).toBe(200);
    const replay = await up("aaaa");
    expect(replay.body.id).toBe(first.body.id);
    // Expected: 409 IDEMPOTENCY_KEY_REUSED; the key must not answer another file's id.
    const differentBytes = await up("bbbb");
    if (differentBytes.body?.id === first.body.id) problems.push("an upload of other bytes with the same key replayed the first file's id");
    else if (deviation(differentBytes, 409)) problems.push(`other bytes: ${deviation(differentBytes, 409)}`);
    const differentExpiry = await up("aaaa", [{ name: "expires_after[anchor]", value: "created_at" }, { name: "expires_after[seconds]", value: "3600" }]);
    if (differentExpiry.body?.id === first.body.id) problems.push("an upload with another expires_after and the same key replayed the first file's id");
    expect((await send("DELETE", `/v1/files/${first.body.id}`)).status).toBe(200);
    for (const res of [differentBytes, differentExpiry]) if (res.status === 200 && res.body.id !== first.body.id) await send("DELETE", `/v1/files/${res.body.id}`);
    await stillServing();
    expect(problems).toEqual([]);
  });

  it("stores odd file names as given and serves them back", async () => {
    const problems: string[] = [];
    // Names as they stand in the part header (a quote escaped, as in a quoted-string).
    for (const name of ["../../etc/passwd", "ü😀 файл.txt", 'quote\\"d.txt', "semi;colon.txt", "back\\slash.txt", "n".repeat(300) + ".txt", ".hidden", " spaced .txt"]) {
      const res = await uploadFile(multipart([{ name: "file", value: `bytes of ${name}`, filename: name }, { name: "purpose", value: "assistants" }]));
      if (res.status !== 200) {
        problems.push(`${name.slice(0, 40)}: ${res.status} ${res.text.slice(0, 200)}`);
        continue;
      }
      const id = res.body.id as string;
      const content = await send("GET", `/v1/files/${id}/content`);
      if (content.status !== 200 || content.text !== `bytes of ${name}`) problems.push(`${name.slice(0, 40)}: content ${content.status} ${content.text.slice(0, 100)}`);
      const got = await send("GET", `/v1/files/${id}`);
      if (got.body?.filename !== res.body.filename || got.body.filename.length > 255) problems.push(`${name.slice(0, 40)}: filename ${JSON.stringify(got.body?.filename)}`);
      expect((await send("DELETE", `/v1/files/${id}`)).status).toBe(200);
    }
    await stillServing();
    expect(problems).toEqual([]);
  });

  it("keeps answering after all of it, with the setup's objects intact", async () => {
    const stores = await send("GET", "/v1/vector_stores");
    expect(stores.status).toBe(200);
    expect(stores.body.data.map((s: { id: string }) => s.id)).toEqual([store]);
    const attached = await send("GET", `/v1/vector_stores/${store}/files`);
    expect(attached.body.data.map((f: { id: string }) => f.id)).toEqual([file]);
    const content = await send("GET", `/v1/files/${file}/content`);
    expect(content.text).toBe("hello hostile world");
  });
});
