import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS } from "../helpers/test-env.ts";

/**
 * Fuzzes the upload route of a real api process with a few hundred generated multipart requests
 * that are broken in the ways clients and proxies break them, over raw sockets. Reproduce a
 * failure with the seed it prints: `FUZZ_SEED=<seed> npx vitest run test/e2e/hostile-upload.test.ts`.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2026);
const CASES = 300;
const PARALLEL = 8;
const MAX_FILE_SIZE = 16 * 1024;

const env = createTestEnv({ LOG_LEVEL: "info", MAX_FILE_SIZE: String(MAX_FILE_SIZE) });
let api: QuarryProcess;
let port: number;
let collectionId: string;

beforeAll(async () => {
  api = spawnQuarry("api/main.ts", env.env);
  const listening = await api.waitForLog((l) => l.msg === "api listening");
  port = Number(listening.port);
  const res = await fetch(`http://127.0.0.1:${port}/v1/collections`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_KEYS.acme}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "fuzz" }),
  });
  expect(res.status).toBe(201);
  collectionId = ((await res.json()) as { id: string }).id;
});
afterAll(async () => {
  await api?.stop("SIGKILL");
  await env.cleanup();
});

/** mulberry32: small, fast and the same everywhere. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const word = () => Array.from({ length: int(2, 9) }, () => pick("abcdefghijklmnopqrstuvwxyz".split(""))).join("");
  return { next, int, pick, bytes, word };
}
type Rand = ReturnType<typeof prng>;

/** What an answer may be: a 4xx JSON error; that or a closed socket; anything but a 5xx. */
type Expect = "4xx" | "4xx-or-closed" | "not-5xx";

interface Case {
  name: string;
  head: Record<string, string>;
  body: Buffer;
  /** abort: send part of the body, then destroy the socket; half-close: end the writing side after the body. */
  transport: "send" | "chunked" | "abort" | "half-close";
  expect: Expect;
}

interface Part {
  name: Buffer;
  filename?: Buffer;
  headers?: Buffer[];
  value: Buffer;
}

const CRLF = Buffer.from("\r\n");

function encodeParts(parts: Part[], boundary: string): { body: Buffer; closing: number } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = Buffer.concat([
      Buffer.from('Content-Disposition: form-data; name="'),
      part.name,
      Buffer.from('"'),
      ...(part.filename ? [Buffer.from('; filename="'), part.filename, Buffer.from('"')] : []),
    ]);
    const headers = part.headers ?? [disposition, ...(part.filename ? [Buffer.from("Content-Type: text/plain")] : [])];
    chunks.push(Buffer.from(`--${boundary}\r\n`), ...headers.flatMap((h) => [h, CRLF]), CRLF, part.value, CRLF);
  }
  const closing = Buffer.concat(chunks).length;
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), closing };
}

function validParts(rand: Rand, i: number): Part[] {
  const file: Part = {
    name: Buffer.from("file"),
    filename: Buffer.from(`${rand.word()}.txt`),
    value: Buffer.from(`Document ${i} of seed ${SEED}: ${Array.from({ length: rand.int(5, 60) }, () => rand.word()).join(" ")}.`),
  };
  const fields: Part[] = [];
  if (rand.next() < 0.5) fields.push({ name: Buffer.from("title"), value: Buffer.from(`Title ${rand.word()}`) });
  if (rand.next() < 0.5) fields.push({ name: Buffer.from("metadata"), value: Buffer.from(JSON.stringify({ team: rand.word(), year: rand.int(1990, 2030) })) });
  if (rand.next() < 0.3) fields.push({ name: Buffer.from("external_id"), value: Buffer.from(rand.word()) });
  return [...fields, file];
}

const boundaryOf = (rand: Rand) => `----${rand.word()}${rand.int(0, 1e9)}`;

/** Each generator breaks a well-formed upload in one way. */
const generators: Array<(rand: Rand, i: number) => Case> = [
  function truncated(rand, i) {
    const boundary = boundaryOf(rand);
    const { body, closing } = encodeParts(validParts(rand, i), boundary);
    const cut = rand.int(0, closing - 1);
    return { name: `truncated at ${cut}/${body.length}`, head: multipartHead(boundary), body: body.subarray(0, cut), transport: rand.next() < 0.5 ? "send" : "chunked", expect: "4xx" };
  },
  function aborted(rand, i) {
    const boundary = boundaryOf(rand);
    const { body } = encodeParts(validParts(rand, i), boundary);
    return { name: "client aborts mid-stream", head: multipartHead(boundary, body.length), body: body.subarray(0, rand.int(0, body.length - 1)), transport: "abort", expect: "4xx-or-closed" };
  },
  function shorterThanContentLength(rand, i) {
    const boundary = boundaryOf(rand);
    const { body } = encodeParts(validParts(rand, i), boundary);
    return { name: "Content-Length larger than the body", head: multipartHead(boundary, body.length + rand.int(1, 5000)), body, transport: "half-close", expect: "4xx-or-closed" };
  },
  function boundaryNotInBody(rand, i) {
    const { body } = encodeParts(validParts(rand, i), boundaryOf(rand));
    return { name: "boundary in Content-Type but not in the body", head: multipartHead(`other${rand.word()}`), body, transport: "send", expect: "4xx" };
  },
  function noBoundary(rand, i) {
    const boundary = boundaryOf(rand);
    const { body } = encodeParts(validParts(rand, i), boundary);
    const type = rand.pick(["multipart/form-data", "multipart/form-data; boundary=", 'multipart/form-data; boundary=""', "multipart/form-data; charset=utf-8", "multipart/mixed"]);
    return { name: `Content-Type '${type}'`, head: { "Content-Type": type }, body, transport: "send", expect: "4xx" };
  },
  function noContentType(rand, i) {
    const { body } = encodeParts(validParts(rand, i), boundaryOf(rand));
    return { name: "no Content-Type", head: {}, body, transport: "send", expect: "4xx" };
  },
  function badPartHeaders(rand, i) {
    const boundary = boundaryOf(rand);
    const parts = validParts(rand, i);
    const file = parts[parts.length - 1]!;
    const bad = rand.pick([
      () => [Buffer.from("no colon here")],
      () => [Buffer.concat([Buffer.from("X-Junk: "), rand.bytes(rand.int(1, 200))])],
      () => [Buffer.from("Content-Disposition: attachment")],
      () => [Buffer.from("Content-Type: text/plain")],
      () => [Buffer.from(`Content-Disposition: form-data; name="file"; filename="a.txt"\r\nX: ${"x".repeat(rand.int(17_000, 30_000))}`)],
    ])();
    file.headers = bad;
    const { body } = encodeParts(parts, boundary);
    return { name: "bad part headers", head: multipartHead(boundary), body, transport: "send", expect: "4xx" };
  },
  function hugeHttpHeader(rand, i) {
    const boundary = boundaryOf(rand);
    const { body } = encodeParts(validParts(rand, i), boundary);
    return { name: "huge HTTP header", head: { ...multipartHead(boundary), "X-Padding": "p".repeat(rand.int(17_000, 40_000)) }, body, transport: "send", expect: "4xx" };
  },
  function duplicateFiles(rand, i) {
    const boundary = boundaryOf(rand);
    const parts = validParts(rand, i);
    const { body } = encodeParts([...parts, { ...parts[parts.length - 1]!, value: Buffer.from(`second ${i}`) }], boundary);
    return { name: "two file parts", head: multipartHead(boundary), body, transport: "send", expect: "4xx" };
  },
  function fieldsAfterTheFile(rand, i) {
    const boundary = boundaryOf(rand);
    const parts = validParts(rand, i);
    const { body } = encodeParts([parts[parts.length - 1]!, ...parts.slice(0, -1), { name: Buffer.from("title"), value: Buffer.from("late") }], boundary);
    return { name: "fields after the file", head: multipartHead(boundary), body, transport: "send", expect: "not-5xx" };
  },
  function nonUtf8Names(rand, i) {
    const boundary = boundaryOf(rand);
    const parts = validParts(rand, i);
    const file = parts[parts.length - 1]!;
    file.filename = Buffer.concat([rand.bytes(rand.int(1, 40)).map((b) => (b === 0x22 || b === 0x0d || b === 0x0a ? 0x41 : b)), Buffer.from(".txt")]);
    parts.unshift({ name: Buffer.from([0xff, 0xfe, 0x80, 0x41]), value: Buffer.from([0xc3, 0x28, 0xa0, 0xa1]) });
    const { body } = encodeParts(parts, boundary);
    return { name: "non-UTF-8 names", head: multipartHead(boundary), body, transport: "send", expect: "not-5xx" };
  },
  function bareLineFeeds(rand, i) {
    const boundary = boundaryOf(rand);
    const { body } = encodeParts(validParts(rand, i), boundary);
    return { name: "LF instead of CRLF", head: multipartHead(boundary), body: Buffer.from(body.toString("latin1").replaceAll("\r\n", "\n"), "latin1"), transport: "send", expect: "4xx" };
  },
  function flippedBytes(rand, i) {
    const boundary = boundaryOf(rand);
    const { body } = encodeParts(validParts(rand, i), boundary);
    const copy = Buffer.from(body);
    for (let k = rand.int(1, 8); k > 0; k--) copy[rand.int(0, copy.length - 1)] = rand.int(0, 255);
    return { name: "flipped bytes", head: multipartHead(boundary), body: copy, transport: "send", expect: "not-5xx" };
  },
  function badFields(rand, i) {
    const boundary = boundaryOf(rand);
    const parts = validParts(rand, i).filter((p) => !p.filename);
    const bad = rand.pick<() => Part[]>([
      () => [{ name: Buffer.from("title"), value: Buffer.from([0x61, 0x00, 0x62]) }],
      () => [{ name: Buffer.from("metadata"), value: Buffer.from("{not json") }],
      () => {
        const depth = rand.int(33, 5000);
        return [{ name: Buffer.from("metadata"), value: Buffer.from(`{"a":${"[".repeat(depth)}${"]".repeat(depth)}}`) }];
      },
      () => [{ name: Buffer.from("metadata"), value: Buffer.from('{"k":"\\u0000"}') }],
      () => [{ name: Buffer.from("metadata"), value: Buffer.from('["not", "an", "object"]') }],
      () => [{ name: Buffer.from("callback_url"), value: Buffer.from("javascript:alert(1)") }],
      () => [{ name: Buffer.from("title"), value: Buffer.alloc(70 * 1024, "t") }],
      () => Array.from({ length: 25 }, (_, n) => ({ name: Buffer.from(`f${n}`), value: Buffer.from("v") })),
    ])();
    const file = validParts(rand, i).at(-1)!;
    const { body } = encodeParts([...parts.filter((p) => !bad.some((b) => b.name.equals(p.name))), ...bad, file], boundary);
    return { name: "bad fields", head: multipartHead(boundary), body, transport: "send", expect: "4xx" };
  },
  function tooLarge(rand, i) {
    const boundary = boundaryOf(rand);
    const parts = validParts(rand, i);
    parts[parts.length - 1]!.value = Buffer.alloc(MAX_FILE_SIZE + rand.int(1, 20_000), "z");
    const { body } = encodeParts(parts, boundary);
    return { name: "file over MAX_FILE_SIZE", head: multipartHead(boundary), body, transport: rand.next() < 0.5 ? "send" : "chunked", expect: "4xx" };
  },
  function emptyOrGarbage(rand) {
    const boundary = boundaryOf(rand);
    const body = rand.next() < 0.3 ? Buffer.alloc(0) : rand.bytes(rand.int(1, 2000));
    return { name: `garbage body of ${body.length} bytes`, head: multipartHead(boundary), body, transport: "send", expect: "4xx" };
  },
];

function multipartHead(boundary: string, contentLength?: number): Record<string, string> {
  return { "Content-Type": `multipart/form-data; boundary=${boundary}`, ...(contentLength !== undefined ? { "Content-Length": String(contentLength) } : {}) };
}

function chunked(body: Buffer, rand: Rand): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const size = Math.min(rand.int(1, 4096), body.length - at);
    out.push(Buffer.from(`${size.toString(16)}\r\n`), body.subarray(at, at + size), CRLF);
    at += size;
  }
  out.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(out);
}

interface Outcome {
  status?: number;
  code?: string;
}

function send(c: Case, rand: Rand): Promise<Outcome> {
  const head: Record<string, string> = { Host: "quarry", Authorization: `Bearer ${TEST_KEYS.acme}`, Connection: "close", ...c.head };
  if (c.transport === "chunked") head["Transfer-Encoding"] = "chunked";
  else if (!("Content-Length" in head)) head["Content-Length"] = String(c.body.length);
  const request = Buffer.concat([
    Buffer.from(`POST /v1/collections/${collectionId}/documents HTTP/1.1\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`, "latin1"),
    c.transport === "chunked" ? chunked(c.body, rand) : c.body,
  ]);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in 5 s to: ${c.name}`));
    }, 5_000);
    socket.on("data", (data) => chunks.push(data));
    socket.on("error", () => undefined); // a reset after the answer, or our own abort
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const match = /^HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(text);
      if (!match) return resolve({});
      let code: string | undefined;
      try {
        const body = JSON.parse(match[2]!) as { error?: { code?: string }; document?: unknown };
        code = body.error?.code ?? (body.document ? "ACCEPTED" : undefined);
      } catch {
        code = undefined;
      }
      resolve({ status: Number(match[1]), code });
    });
    if (c.transport === "abort") {
      socket.write(request, () => setTimeout(() => socket.destroy(), 5));
    } else {
      socket.write(request);
      if (c.transport === "half-close") socket.end();
    }
  });
}

function verdict(c: Case, outcome: Outcome): string | undefined {
  const { status, code } = outcome;
  if (status === undefined) return c.expect === "4xx" || c.expect === "not-5xx" ? "the socket closed without an answer" : undefined;
  if (status >= 500) return `answered ${status} ${code}`;
  if (!code) return `answered ${status} without a JSON body`;
  if (c.expect !== "not-5xx" && (status < 400 || status >= 500)) return `answered ${status} ${code}, not a 4xx`;
  return undefined;
}

describe("the upload route under a fuzzing client", () => {
  it(`answers ${CASES} malformed multipart requests with 4xx JSON or a closed socket, and stays up (seed ${SEED})`, { timeout: 60_000 }, async () => {
    const rand = prng(SEED);
    const cases = Array.from({ length: CASES }, (_, i) => generators[i % generators.length]!(rand, i));
    const failures: string[] = [];
    const seen = new Map<string, number>();
    for (let at = 0; at < cases.length; at += PARALLEL) {
      const batch = cases.slice(at, at + PARALLEL);
      const outcomes = await Promise.all(batch.map((c) => send(c, rand)));
      batch.forEach((c, k) => {
        const outcome = outcomes[k]!;
        seen.set(`${outcome.status ?? "closed"} ${outcome.code ?? ""}`, (seen.get(`${outcome.status ?? "closed"} ${outcome.code ?? ""}`) ?? 0) + 1);
        const why = verdict(c, outcome);
        if (why) failures.push(`case ${at + k} (${c.name}): ${why}`);
      });
      expect(api.child.exitCode, `the api died at case ${at}; seed ${SEED}\n${api.output().slice(-2000)}`).toBeNull();
    }
    expect(failures, `seed ${SEED}; outcomes ${JSON.stringify(Object.fromEntries(seen))}`).toEqual([]);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(api.child.exitCode).toBeNull();
    // Client mistakes are not the operator's alarm: nothing at error, and no 4xx above info.
    expect(api.logs.filter((l) => l.level === "error" || l.level === "fatal")).toEqual([]);
    const loud4xx = api.logs.filter((l) => l.level !== "info" && l.level !== "debug" && Number((l.res as { statusCode?: number } | undefined)?.statusCode) < 500);
    expect(loud4xx).toEqual([]);
  });
});
