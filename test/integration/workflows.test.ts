/**
 * Workflows end to end: an api and two worker processes, the local OpenAI-compatible stub for
 * `llm` steps, and a receiver for `http` steps and callbacks that verifies every signature.
 */
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { hostname } from "node:os";
import ipaddr from "ipaddr.js";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";
import { postForEvents } from "../helpers/sse.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

interface Hit {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** The caller closed the connection before the answer was complete. */
  aborted: boolean;
}

const hits: Hit[] = [];
/** Statuses each path answers, in turn (then 200). */
const script: Record<string, number[]> = { "/flaky": [500, 500], "/fails-once": [503] };
let receiver: Server;
let base = "";
const stub = new OpenAIStub();
let env: TestEnv;
let api: QuarryProcess;
let workers: QuarryProcess[] = [];
let acme: ApiClient;
let collectionId = "";

const startWorker = async () => {
  const worker = spawnQuarry("workers/main.ts", env.env);
  await worker.waitForLog((l) => l.msg === "worker ready");
  workers.push(worker);
  return worker;
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const hit: Hit = { path: url.pathname, query: url.searchParams, headers: req.headers, body, aborted: false };
      hits.push(hit);
      res.on("close", () => (hit.aborted = !res.writableFinished));
      if (url.pathname === "/redirect-private") return void res.writeHead(302, { location: "http://10.0.0.1/internal" }).end();
      if (url.pathname === "/always-500") return void res.writeHead(500).end("broken");
      if (url.pathname === "/big") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ rows: Array.from({ length: 3000 }, (_, i) => ({ i, text: "x".repeat(30) })) }));
      const answer = () => {
        const status = script[url.pathname]?.shift() ?? 200;
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ received: body ? JSON.parse(body) : null }));
      };
      if (url.pathname === "/slow") setTimeout(answer, Number(url.searchParams.get("ms") ?? 10_000));
      else answer();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  // Allowlisted by name: the literal 127.0.0.1 stays refused.
  base = `http://localhost:${(receiver.address() as { port: number }).port}`;
  await stub.start();
  stub.chatReply = (messages, body) => {
    if (body.response_format) return messages.at(-1)!.content.includes("BROKEN") ? "not json at all" : JSON.stringify({ animal: "owl", habit: "hunts at night" });
    return `summary of ${messages.at(-1)!.content.length} characters`;
  };
  env = createTestEnv({
    OPENAI_API_KEY: "sk-stub",
    OPENAI_BASE_URL: stub.url,
    OPENAI_MAX_RETRIES: "0",
    CHAT_MODEL: "stub-chat",
    WEBHOOK_SECRET: SECRET,
    OUTBOUND_ALLOWLIST: "localhost",
    // A killed worker's step is taken over within seconds.
    WORKER_LOCK_DURATION_MS: "4000",
    LOG_LEVEL: "info",
  });
  api = spawnQuarry("api/main.ts", env.env);
  const listening = await api.waitForLog((l) => l.msg === "api listening");
  await Promise.all([startWorker(), startWorker()]);
  acme = apiClient(String(listening.url), TEST_KEYS.acme);
  collectionId = (await acme.post("/v1/collections", { name: "notes", embedding: { provider: "local" } })).body.id;
  for (const text of ["Owls hunt at night and sleep by day.", "Larks sing at dawn in open fields.", "Bats navigate in the dark by echolocation."]) {
    const res = await acme.post(`/v1/collections/${collectionId}/documents`, { text });
    await waitFor(async () => (await acme.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded", 30_000, "an ingest");
  }
}, 90_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop("SIGTERM")));
  await api?.stop("SIGTERM");
  await env?.cleanup();
  await stub.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

const define = async (body: Json) => {
  const res = await acme.post("/v1/workflows", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
};
const start = async (workflowId: string, input: Json = {}, extra: Json = {}) => {
  const res = await acme.post(`/v1/workflows/${workflowId}/runs`, { input, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.headers.get("location")).toBe(`/v1/jobs/${res.body.job.id}`);
  return res.body as { run: Json; job: Json };
};
const getRun = async (runId: string) => (await acme.get(`/v1/workflow-runs/${runId}`)).body as Json;
const settled = (runId: string, timeoutMs = 45_000) =>
  waitFor(async () => {
    const run = await getRun(runId);
    return ["succeeded", "failed", "cancelled"].includes(run.status) ? run : undefined;
  }, timeoutMs, `run ${runId} to end`);
const step = (run: Json, id: string) => run.steps.find((s: Json) => s.id === id);
const headersOf = (h: Hit) => Object.fromEntries(Object.entries(h.headers).map(([k, v]) => [k, String(v)]));
const hitsOf = (path: string, runId: string) => hits.filter((h) => h.path === path && h.query.get("run") === runId);

describe("a workflow definition", () => {
  it("is refused with the JSON path of each problem", async () => {
    const cases: Array<[Json, string, RegExp]> = [
      [{ name: "x", steps: [{ id: "a", type: "translate", with: {} }] }, "$.steps[0].type", /Invalid option/],
      [{ name: "x", steps: [{ id: "a", type: "search", with: { collection_id: collectionId, query: "q" }, needs: ["nope"] }] }, "$.steps[0].needs[0]", /no step "nope"/],
      [
        {
          name: "x",
          steps: [
            { id: "a", type: "llm", with: { prompt: "{{steps.b.output.text}}" }, needs: ["b"] },
            { id: "b", type: "llm", with: { prompt: "p" }, needs: ["a"] },
          ],
        },
        "$.steps[0].needs",
        /cycle: a → b → a/,
      ],
      [
        {
          name: "x",
          steps: [
            { id: "a", type: "llm", with: { prompt: "p", schema: { type: "object", properties: { title: { type: "string" } } } } },
            { id: "b", type: "http", with: { url: "https://example.com", body: { t: "{{steps.a.output.data.titel}}" } }, needs: ["a"] },
          ],
        },
        "$.steps[1].with.body.t",
        /"titel" is not a field there \(it has: title\)/,
      ],
      [
        { name: "x", steps: [{ id: "a", type: "llm", with: { prompt: "p" } }, { id: "b", type: "llm", with: { prompt: "{{steps.a.output.text}}" } }] },
        "$.steps[1].with.prompt",
        /not among the steps "b" needs/,
      ],
      [{ name: "x", steps: [{ id: "a", type: "search", with: { collection_id: collectionId, query: "q", top_k: 500 } }] }, "$.steps[0].with.top_k", /./],
    ];
    for (const [body, path, message] of cases) {
      const res = await acme.post("/v1/workflows", body);
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe("INVALID_WORKFLOW");
      const problem = res.body.error.details.find((d: Json) => d.path === path);
      expect(problem, `${path} in ${JSON.stringify(res.body.error.details)}`).toBeDefined();
      expect(problem.message).toMatch(message);
    }
  });

  it("gets a new version on update; a run keeps the version it started with", async () => {
    const id = await define({ name: "versioned", steps: [{ id: "only", type: "llm", with: { prompt: "first" } }] });
    const updated = await acme.call("PUT", `/v1/workflows/${id}`, { name: "versioned", steps: [{ id: "only", type: "llm", with: { prompt: "second version" } }] });
    expect(updated.status).toBe(200);
    expect(updated.body.version).toBe(2);
    expect((await acme.get(`/v1/workflows/${id}?version=1`)).body.steps[0].with.prompt).toBe("first");
    const { run } = await start(id);
    expect(run.version).toBe(2);
    expect((await acme.post("/v1/workflows", { name: "versioned", steps: [{ id: "a", type: "llm", with: { prompt: "p" } }] })).body.error.code).toBe("WORKFLOW_NAME_TAKEN");
    expect((await apiClient(acme.baseUrl, TEST_KEYS.globex).get(`/v1/workflows/${id}`)).status).toBe(404);
    expect((await settled(run.id)).status).toBe("succeeded");
  }, 60_000);
});

describe("a workflow run", () => {
  it("runs search → (llm JSON ‖ llm summary) → a signed http post, with every output, and calls back when it ends", async () => {
    stub.chatDelayMs = 1_500; // long enough for the two llm steps to overlap
    const id = await define({
      name: "ask-and-post",
      input_schema: { type: "object", properties: { question: { type: "string" } }, required: ["question"] },
      steps: [
        { id: "find", type: "search", with: { collection_id: collectionId, query: "{{input.question}}", top_k: 2 } },
        {
          id: "extract",
          type: "llm",
          needs: ["find"],
          with: {
            prompt: "Which animal and habit does this describe? {{steps.find.output.results.0.text}}",
            schema: { type: "object", properties: { animal: { type: "string" }, habit: { type: "string" } }, required: ["animal", "habit"], additionalProperties: false },
          },
        },
        { id: "summary", type: "llm", needs: ["find"], with: { prompt: "Summarise: {{steps.find.output.results}}" } },
        {
          id: "post",
          type: "http",
          needs: ["extract", "summary"],
          with: { url: `${base}/hook?run={{input.question}}`, body: { fact: "{{steps.extract.output.data}}", summary: "{{steps.summary.output.text}}" } },
        },
      ],
    });
    const { run, job } = await start(id, { question: "night hunters" }, { callback_url: `${base}/run-callback` });
    const done = await settled(run.id);
    stub.chatDelayMs = 0;
    expect(done.status, JSON.stringify(done)).toBe("succeeded");
    expect(done.steps.map((s: Json) => [s.id, s.status, s.attempts])).toEqual([
      ["find", "succeeded", 1],
      ["extract", "succeeded", 1],
      ["summary", "succeeded", 1],
      ["post", "succeeded", 1],
    ]);
    expect(step(done, "find").output.results[0].text).toMatch(/Owls hunt at night/);
    expect(step(done, "extract").output.data).toEqual({ animal: "owl", habit: "hunts at night" });
    expect(step(done, "summary").output.text).toMatch(/^summary of \d+ characters$/);
    expect(step(done, "post").output).toMatchObject({ status: 200, body: { received: { fact: { animal: "owl", habit: "hunts at night" } } } });
    // The two branches ran side by side.
    const [a, b] = [step(done, "extract"), step(done, "summary")];
    expect(Date.parse(a.started_at)).toBeLessThan(Date.parse(b.finished_at));
    expect(Date.parse(b.started_at)).toBeLessThan(Date.parse(a.finished_at));
    // The model was asked for structured output.
    const structured = stub.requests.find((r) => r.path === "/v1/chat/completions" && r.body.response_format);
    expect(structured?.body.response_format).toMatchObject({ type: "json_schema", json_schema: { schema: { required: ["animal", "habit"] } } });

    // The http step's request is signed with the tenant's own key (read from the API), not the
    // callbacks' WEBHOOK_SECRET: a tenant cannot have Quarry sign something that passes for a callback.
    const [posted] = hitsOf("/hook", "night hunters");
    expect(hitsOf("/hook", "night hunters")).toHaveLength(1);
    const tenantSecret = (await acme.get("/v1/workflows/signing-secret")).body.secret;
    expect(tenantSecret).toMatch(/^whsec_/);
    expect(tenantSecret).not.toBe(SECRET);
    expect((await apiClient(acme.baseUrl, TEST_KEYS.globex).get("/v1/workflows/signing-secret")).body.secret).not.toBe(tenantSecret);
    expect(new Webhook(tenantSecret).verify(posted!.body, headersOf(posted!))).toMatchObject({ summary: expect.stringMatching(/^summary of/) });
    expect(() => new Webhook(SECRET).verify(posted!.body, headersOf(posted!))).toThrow();
    expect(posted!.headers["webhook-id"]).toBe(`msg_${run.id}_post`);

    // The run's job ends with the outputs of its last step, and its callback is signed too.
    const ended = (await acme.get(`/v1/jobs/${job.id}`)).body;
    expect(ended).toMatchObject({ type: "run_workflow", status: "succeeded", progress: 100, result: { run_id: run.id, outputs: { post: { status: 200 } } } });
    // Its progress moved with its steps: 1 of 4, 2 and 3 of 4 (the parallel ones), then the end.
    // Replayed from the job's event log: a client resuming from id 1 gets every later event of the job.
    const { events } = await postForEvents(`${acme.baseUrl}/v1/jobs/${job.id}/events`, TEST_KEYS.acme, undefined, { method: "GET", headers: { "last-event-id": "1" } });
    const progress = events.filter((e) => e.event === "progress").map((e) => e.data.progress as number);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));
    expect(progress).toEqual(expect.arrayContaining([25, 75]));
    const callback = await waitFor(async () => hits.find((h) => h.path === "/run-callback" && JSON.parse(h.body).id === job.id), 20_000, "the run's callback");
    expect(new Webhook(SECRET).verify(callback.body, headersOf(callback))).toMatchObject({ id: job.id, type: "run_workflow", status: "succeeded" });
  }, 90_000);

  it("shows an output over 64 KiB truncated, with its size, and keeps it whole for the steps after it", async () => {
    const id = await define({
      name: "big-output",
      steps: [
        { id: "fetch", type: "http", with: { url: `${base}/big?run=big` } },
        { id: "echo", type: "http", needs: ["fetch"], with: { url: `${base}/hook?run=big-echo`, body: { last: "{{steps.fetch.output.body.rows.2999.i}}" } } },
      ],
    });
    const done = await settled((await start(id)).run.id);
    expect(done.status).toBe("succeeded");
    const fetched = step(done, "fetch");
    expect(fetched.output_truncated).toBe(true);
    expect(fetched.output_bytes).toBeGreaterThan(64 * 1024);
    expect(typeof fetched.output).toBe("string");
    expect(Buffer.byteLength(fetched.output)).toBeLessThanOrEqual(64 * 1024);
    expect(JSON.parse(hitsOf("/hook", "big-echo")[0]!.body)).toEqual({ last: 2999 });
  }, 60_000);

  it("retries a step that fails twice and then passes", async () => {
    const id = await define({ name: "flaky", steps: [{ id: "call", type: "http", with: { url: `${base}/flaky?run=flaky`, method: "POST", body: { n: 1 } } }] });
    const { run } = await start(id);
    const done = await settled(run.id);
    expect(done.status).toBe("succeeded");
    expect(step(done, "call")).toMatchObject({ status: "succeeded", attempts: 3, output: { status: 200 } });
    expect(hitsOf("/flaky", "flaky")).toHaveLength(3);
  }, 60_000);

  it("fails with the step's code when a step always fails, and skips what came after it", async () => {
    const id = await define({
      name: "always-fails",
      steps: [
        { id: "call", type: "http", retries: 1, with: { url: `${base}/always-500?run=always` } },
        { id: "after", type: "llm", needs: ["call"], with: { prompt: "never" } },
      ],
    });
    const { run } = await start(id);
    const done = await settled(run.id);
    expect(done).toMatchObject({ status: "failed", error: { code: "HTTP_STEP_FAILED" } });
    expect(done.error.message).toMatch(/^step "call": GET answered 500/);
    expect(step(done, "call")).toMatchObject({ status: "failed", attempts: 2, error: { code: "HTTP_STEP_FAILED" } });
    expect(step(done, "after")).toMatchObject({ status: "skipped", attempts: 0 });
    expect(hitsOf("/always-500", "always")).toHaveLength(2);

    // An llm answer that does not match its schema is retried, then fails the run with its code.
    const broken = await define({ name: "broken-json", steps: [{ id: "x", type: "llm", retries: 1, with: { prompt: "BROKEN", schema: { type: "object" } } }] });
    const brokenRun = await settled((await start(broken)).run.id);
    expect(brokenRun).toMatchObject({ status: "failed", error: { code: "LLM_INVALID_OUTPUT" } });
    expect(step(brokenRun, "x").attempts).toBe(2);
  }, 60_000);

  it("ingests text and answers over it: the ingest step waits for the document to be ready", async () => {
    const id = await define({
      name: "ingest-and-ask",
      steps: [
        { id: "add", type: "ingest", with: { collection_id: collectionId, text: "{{input.note}}", title: "{{input.title}}", metadata: { source: "workflow" } } },
        { id: "ask", type: "chat", needs: ["add"], with: { collection_ids: [collectionId], message: "What do herons eat?", top_k: 2 } },
      ],
    });
    const input = { note: "Herons eat fish, frogs and insects caught in shallow water.", title: "Herons" };
    const done = await settled((await start(id, input)).run.id);
    expect(done.status, JSON.stringify(done)).toBe("succeeded");
    const added = step(done, "add").output;
    expect(added).toMatchObject({ status: "ready", title: "Herons", created: true, chunk_count: 1 });
    expect((await acme.get(`/v1/documents/${added.document_id}`)).body).toMatchObject({ status: "ready", metadata: { source: "workflow" } });
    const asked = step(done, "ask").output;
    expect(asked).toMatchObject({ mode: "llm", model: "stub-chat", answer: expect.stringMatching(/^summary of/) });
    expect(asked.sources.map((s: Json) => s.document_id)).toContain(added.document_id);
    // The same text again finds the same document instead of adding another.
    const again = await settled((await start(id, input)).run.id);
    expect(step(again, "add").output).toMatchObject({ document_id: added.document_id, created: false });
  }, 60_000);

  it("that failed is retried from the step that failed: the steps before it keep their output and do not run again", async () => {
    const id = await define({
      name: "retry-me",
      steps: [
        { id: "first", type: "http", with: { url: `${base}/hook?run=retry-first` } },
        { id: "second", type: "http", needs: ["first"], retries: 0, with: { url: `${base}/fails-once?run=retry-second` } },
      ],
    });
    const { run, job } = await start(id);
    const failed = await settled(run.id);
    expect(failed).toMatchObject({ status: "failed", error: { code: "HTTP_STEP_FAILED" } });
    const retried = await acme.post(`/v1/jobs/${job.id}/retry`);
    expect(retried.status).toBe(202);
    // The run's job ends again first (the run, read straight away, may still show the first end).
    await waitFor(async () => (["succeeded", "failed"].includes((await acme.get(`/v1/jobs/${job.id}`)).body.status) ? true : undefined), 45_000);
    const done = await settled(run.id);
    expect(done.status).toBe("succeeded");
    expect(step(done, "first").attempts).toBe(1);
    expect(hitsOf("/hook", "retry-first")).toHaveLength(1);
    expect(hitsOf("/fails-once", "retry-second").length).toBe(2);
    expect((await acme.get(`/v1/jobs/${job.id}`)).body).toMatchObject({ status: "succeeded", result: { outputs: { second: { status: 200 } } } });
  }, 60_000);

  it("that outlives its timeout_s ends WORKFLOW_TIMEOUT, its running step aborted", async () => {
    const id = await define({ name: "too-slow", timeout_s: 2, steps: [{ id: "wait", type: "http", with: { url: `${base}/slow?ms=15000&run=timeout` } }] });
    const { run } = await start(id);
    const done = await settled(run.id, 20_000);
    expect(done).toMatchObject({ status: "failed", error: { code: "WORKFLOW_TIMEOUT" } });
    expect(step(done, "wait")).toMatchObject({ status: "failed", error: { code: "WORKFLOW_TIMEOUT" } });
    expect(Date.parse(done.finished_at) - Date.parse(done.started_at)).toBeLessThan(8_000);
    const [call] = hitsOf("/slow", "timeout");
    await waitFor(async () => call?.aborted, 5_000, "the slow request to be dropped");
  }, 40_000);

  it("is cancelled from the api while a step runs: the step stops and nothing after it starts", async () => {
    const id = await define({
      name: "cancel-me",
      steps: [
        { id: "wait", type: "http", with: { url: `${base}/slow?ms=20000&run=cancel` } },
        { id: "after", type: "http", needs: ["wait"], with: { url: `${base}/hook?run=after-cancel` } },
      ],
    });
    const { run, job } = await start(id);
    await waitFor(async () => step(await getRun(run.id), "wait").status === "running", 20_000, "the step to run");
    const cancel = await acme.post(`/v1/jobs/${job.id}/cancel`);
    expect([200, 202]).toContain(cancel.status);
    const done = await settled(run.id, 20_000);
    expect(done.status).toBe("cancelled");
    expect(step(done, "wait").status).toBe("cancelled");
    expect(step(done, "after").status).toBe("skipped");
    await waitFor(async () => hitsOf("/slow", "cancel")[0]?.aborted, 5_000, "the slow request to be dropped");
    expect(hitsOf("/hook", "after-cancel")).toHaveLength(0);
  }, 60_000);

  it("refuses outbound calls to non-public addresses, by address, by name and after a redirect", async () => {
    const port = (receiver.address() as { port: number }).port;
    const local = hostname();
    const { address } = await lookup(local);
    expect(ipaddr.process(address).range(), `${local} resolves to ${address}`).not.toBe("unicast");
    const urls = [
      `http://127.0.0.1:${port}/hook?run=ssrf`,
      `http://[::1]:${port}/hook?run=ssrf`,
      "http://10.1.2.3/hook",
      "http://169.254.169.254/latest/meta-data/",
      `http://${local}:${port}/hook?run=ssrf`,
      `${base}/redirect-private?run=ssrf`,
    ];
    for (const url of urls) {
      const id = await define({ name: `ssrf ${url}`, steps: [{ id: "call", type: "http", retries: 0, with: { url } }] });
      const done = await settled((await start(id)).run.id);
      expect(done.status, url).toBe("failed");
      expect(done.error.code, url).toBe("OUTBOUND_ADDRESS_REFUSED");
    }
    // Only the allowlisted redirect itself reached the receiver; nothing reached a refused address.
    expect(hits.filter((h) => h.query.get("run") === "ssrf").map((h) => h.path)).toEqual(["/redirect-private"]);
  }, 90_000);
});

describe("a worker killed mid-run", () => {
  it("loses nothing: another worker finishes the run without repeating finished steps", async () => {
    const id = await define({
      name: "survivor",
      steps: [
        { id: "first", type: "http", with: { url: `${base}/hook?run=kill-first` } },
        { id: "long", type: "http", needs: ["first"], with: { url: `${base}/slow?ms=4000&run=kill-long` } },
        { id: "last", type: "http", needs: ["long"], with: { url: `${base}/hook?run=kill-last` } },
      ],
    });
    const { run } = await start(id);
    await waitFor(async () => hitsOf("/slow", "kill-long").length === 1, 20_000, "the long step to start");
    // Every worker dies at once (SIGKILL: no drain), then a fresh one starts.
    await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    workers = [];
    await startWorker();
    const done = await settled(run.id, 60_000);
    expect(done.status, JSON.stringify(done)).toBe("succeeded");
    expect(hitsOf("/hook", "kill-first")).toHaveLength(1);
    expect(hitsOf("/hook", "kill-last")).toHaveLength(1);
    // The step that was running when its worker died ran again; the one before it did not.
    expect(hitsOf("/slow", "kill-long").length).toBeGreaterThanOrEqual(2);
    expect(step(done, "first").attempts).toBe(1);
    expect(step(done, "long").attempts).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
