/**
 * Bull Board at /admin/queues over HTTP: its lock (ADMIN_TOKEN, Bearer or Basic), the CSRF rule
 * for Basic writes, what it may change (and what it may not, read-only or not), and what it shows
 * of jobs — ids and counts, never document text, names, metadata, callback URLs or outputs.
 * (test/e2e/bull-board-browser.test.ts opens it in Chromium.)
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../api/app.ts";
import { QUEUE_NAMES } from "../../shared/config/env.ts";
import type { Config } from "../../shared/config/env.ts";
import { reconcileJobs } from "../../shared/use-cases/reconcile-jobs.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ADMIN = "board-admin-token-0001";
const BOARD = "/admin/queues";
/** Strings that must never reach the board: document text, a title, metadata, a callback's query. */
const CANARIES = ["OSPREY-TEXT-7731", "OSPREY-TITLE-7731", "OSPREY-META-7731", "OSPREY-HOOK-7731"];

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const bearer = { authorization: `Bearer ${ADMIN}` };

let stack: TestStack;
let acme: ApiClient;
let board: ApiClient;
const servers: Server[] = [];
const jobs = { failed: "", succeeded: "", run: "" };

/** The same deps under another configuration, on its own port (the read-only board, no token at all). */
async function appWith(config: Partial<Config>): Promise<string> {
  const app = createApp({ ...stack.deps, config: { ...stack.deps.config, ...config } });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ended = (id: string) =>
  waitFor(async () => {
    const res = await acme.get(`/v1/jobs/${id}`);
    return ["succeeded", "failed", "cancelled"].includes(res.body.status) ? res.body : undefined;
  }, 30_000, `job ${id} to end`);

beforeAll(async () => {
  stack = await startTestStack({
    workers: true,
    env: {
      ADMIN_TOKEN: ADMIN,
      WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
      OUTBOUND_ALLOWLIST: "127.0.0.1",
      // No vector maintenance after writes: its delayed job on the ingest queue would change the
      // counts asserted here whenever it came due.
      VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0",
    },
  });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  board = apiClient(stack.url, ADMIN);
  const collection = (await acme.post("/v1/collections", { name: "ospreys" })).body;
  const empty = await acme.post(`/v1/collections/${collection.id}/documents`, {
    text: " \n\n\t ",
    title: "OSPREY-TITLE-7731",
    metadata: { note: "OSPREY-META-7731" },
    callback_url: "http://127.0.0.1:9/hook?token=OSPREY-HOOK-7731",
  });
  expect(empty.status).toBe(202);
  const good = await acme.post(`/v1/collections/${collection.id}/documents`, { text: "Ospreys dive feet first. OSPREY-TEXT-7731 marks this sentence.", title: "OSPREY-TITLE-7731" });
  jobs.failed = empty.body.job.id;
  jobs.succeeded = good.body.job.id;
  expect((await ended(jobs.failed)).error.code).toBe("NO_TEXT");
  expect((await ended(jobs.succeeded)).status).toBe("succeeded");
  // A workflow whose output holds the document's text: the run's BullMQ return value carries it.
  const workflow = await acme.post("/v1/workflows", {
    name: "find ospreys",
    steps: [{ id: "find", type: "search", with: { collection_id: collection.id, query: "ospreys dive", top_k: 1 } }],
  });
  expect(workflow.status).toBe(201);
  const run = await acme.post(`/v1/workflows/${workflow.body.id}/runs`, { input: {} });
  expect(run.status).toBe(202);
  jobs.run = run.body.job.id;
  expect((await ended(jobs.run)).status).toBe("succeeded");
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await stack?.stop();
});

describe("the lock", () => {
  const paths = [BOARD, `${BOARD}/queue/ingest`, `${BOARD}/static/images/logo.svg`, `${BOARD}/api/queues`];

  it("takes ADMIN_TOKEN as Bearer or as Basic with user admin, on the page, its static files and its API", async () => {
    const cases: Array<[Record<string, string>, number]> = [
      [{}, 401],
      [{ authorization: `Bearer ${TEST_KEYS.acme}` }, 401],
      [{ authorization: `Bearer ${ADMIN}x` }, 401],
      [{ authorization: basic("admin", "wrong-password-0001") }, 401],
      [{ authorization: basic("root", ADMIN) }, 401],
      [bearer, 200],
      [{ authorization: basic("admin", ADMIN) }, 200],
    ];
    for (const path of paths) {
      for (const [headers, status] of cases) {
        const res = await fetch(`${stack.url}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(status);
        if (status === 401) {
          expect(res.headers.get("www-authenticate")).toBe('Basic realm="Quarry admin"');
          expect(((await res.json()) as Json).error.code).toBe("UNAUTHORIZED");
        } else await res.arrayBuffer();
        expect(res.headers.get("x-frame-options")).toBe("DENY");
      }
    }
  });

  it("answers 403 ADMIN_DISABLED when no token is set, in production too, as /v1/backups does", async () => {
    const url = await appWith({ ADMIN_TOKEN: undefined, NODE_ENV: "production" });
    for (const path of [...paths, "/v1/backups"]) {
      const res = await apiClient(url, ADMIN).get(path);
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe("ADMIN_DISABLED");
    }
  });
});

describe("what it shows", () => {
  it("lists every queue of Quarry with its counts", async () => {
    const res = await board.get(`${BOARD}/api/queues`);
    expect(res.status).toBe(200);
    expect(res.body.queues.map((q: Json) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    const ingest = res.body.queues.find((q: Json) => q.name === "ingest");
    expect(ingest.counts).toMatchObject({ failed: 1, completed: 1 });
    expect(ingest.readOnlyMode).toBe(false);
  });

  it("shows ids, steps and errors, but no document text, title, metadata, callback URL or workflow output", async () => {
    const pages: string[] = [];
    for (const queue of QUEUE_NAMES) {
      for (const status of ["latest", "completed", "failed"]) {
        const res = await board.get(`${BOARD}/api/queues?activeQueue=${queue}&status=${status}&jobsPerPage=50`);
        expect(res.status).toBe(200);
        pages.push(res.text);
      }
    }
    const failed = await board.get(`${BOARD}/api/queues/ingest/${jobs.failed}`);
    expect(failed.body.job).toMatchObject({ name: "ingest_document", data: { tenant_id: "acme", step: "parse" }, failedReason: expect.stringContaining("NO_TEXT") });
    const run = await board.get(`${BOARD}/api/queues/workflow/${jobs.run}`);
    expect(run.body.job.returnValue).toMatchObject({ run_id: expect.any(String), outputs: "[redacted]" });
    const page = await fetch(`${stack.url}${BOARD}/queue/ingest/${jobs.failed}`, { headers: bearer });
    pages.push(failed.text, run.text, (await board.get(`${BOARD}/api/queues/ingest/${jobs.succeeded}`)).text, await page.text());
    // BullMQ itself has the text (the run's return value): the board is what hides it.
    const raw = await stack.deps.producer.queue("workflow").getJob(jobs.run);
    expect(JSON.stringify(raw?.returnvalue)).toContain("OSPREY-TEXT-7731");
    for (const text of pages) for (const canary of CANARIES) expect(text).not.toContain(canary);
  });
});

describe("writes", () => {
  const put = (path: string, headers: Record<string, string>) => fetch(`${stack.url}${BOARD}${path}`, { method: "PUT", headers });

  it("refuse a Basic write from another site (CSRF_REJECTED), also on /v1/backups; Bearer and the board's own page pass", async () => {
    const auth = basic("admin", ADMIN);
    const own = new URL(stack.url).host;
    const crossSite: Array<Record<string, string>> = [
      { authorization: auth, origin: "http://evil.example" },
      { authorization: auth, "sec-fetch-site": "cross-site" },
      { authorization: auth, "sec-fetch-site": "same-site", origin: `http://${own}` },
      { authorization: auth, "sec-fetch-site": "same-origin", origin: "http://evil.example" },
      { authorization: auth, origin: "null" },
      { authorization: auth },
    ];
    for (const headers of crossSite) {
      const res = await put("/api/queues/backup/pause", headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(((await res.json()) as Json).error.code).toBe("CSRF_REJECTED");
    }
    const backup = await fetch(`${stack.url}/v1/backups`, { method: "POST", headers: { authorization: auth, origin: "http://evil.example" } });
    expect(backup.status).toBe(403);
    expect(((await backup.json()) as Json).error.code).toBe("CSRF_REJECTED");
    // Reads with Basic need no proof: a browser cannot read another origin's answers.
    expect((await fetch(`${stack.url}/v1/backups`, { headers: { authorization: auth, origin: "http://evil.example" } })).status).toBe(200);

    expect((await put("/api/queues/backup/pause", { authorization: auth, origin: `http://${own}`, "sec-fetch-site": "same-origin" })).status).toBe(200);
    expect(await stack.deps.producer.queue("backup").isPaused()).toBe(true);
    expect((await put("/api/queues/backup/resume", { authorization: auth, origin: `http://${own}` })).status).toBe(200);
    expect((await put("/api/queues/backup/pause", { ...bearer, origin: "http://evil.example" })).status).toBe(200);
    expect((await put("/api/queues/backup/resume", bearer)).status).toBe(200);
    expect(await stack.deps.producer.queue("backup").isPaused()).toBe(false);
  });

  it("refuse what would make Redis disagree with Postgres: adding, editing, emptying, schedulers, limits, bulk retries", async () => {
    const refused: Array<[string, string, unknown?]> = [
      ["POST", "/api/queues/ingest/add", { name: "ingest_document", data: {}, options: {} }],
      ["PATCH", `/api/queues/ingest/${jobs.failed}/update-data`, { data: { step: "finalize" } }],
      ["PATCH", `/api/queues/ingest/${jobs.failed}/priority`, { priority: 1 }],
      ["PUT", "/api/queues/ingest/empty"],
      ["PUT", "/api/queues/ingest/obliterate", {}],
      ["PUT", "/api/queues/ingest/retry/failed"],
      ["PUT", "/api/queues/ingest/RETRY/failed"],
      ["PUT", "/api/queues/ingest/clean/wait"],
      ["PUT", "/api/queues/ingest/clean/delayed"],
      ["PUT", "/api/queues/workflow/promote"],
      ["PUT", "/api/queues/embed/concurrency", { concurrency: 1 }],
      ["PUT", "/api/queues/embed/rate-limit", { max: 1, duration: 1000 }],
      ["PUT", "/api/queues/backup/job-schedulers/nightly-backup/remove"],
      ["PUT", `/api/queues/ingest/${jobs.failed}/remove-unprocessed-children`],
    ];
    for (const [method, path, body] of refused) {
      const res = await board.call(method, `${BOARD}${path}`, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe("BULL_BOARD_ACTION_REFUSED");
      // Bull Board's page reads a translation key and a message: the operator sees why.
      expect(res.body).toMatchObject({ error: { key: "ERRORS.FORBIDDEN" }, message: expect.any(String) });
    }
    const ingest = (await board.get(`${BOARD}/api/queues`)).body.queues.find((q: Json) => q.name === "ingest");
    expect(ingest.counts).toMatchObject({ failed: 1, completed: 1 });
  });

  it("refuse a retry or a promotion that fits no job of Quarry's (409), and remove a failed job whose record has ended", async () => {
    const retry = await board.call("PUT", `${BOARD}/api/queues/ingest/${jobs.failed}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.error).toMatchObject({ code: "BULL_BOARD_JOB_REFUSED", message: expect.stringContaining(`POST /v1/jobs/${jobs.failed}/retry`) });
    expect((await board.call("PUT", `${BOARD}/api/queues/ingest/${jobs.succeeded}/retry`)).status).toBe(409);
    expect((await board.call("PUT", `${BOARD}/api/queues/ingest/${jobs.succeeded}/promote`)).status).toBe(409);

    const removed = await board.call("PUT", `${BOARD}/api/queues/ingest/${jobs.failed}/clean`);
    expect(removed.status).toBe(204);
    expect(await stack.deps.producer.queue("ingest").getJob(jobs.failed)).toBeUndefined();
    // The record stays what it was, and the healer (run now, on rows of any age) brings nothing back.
    expect((await reconcileJobs(stack.deps, 0)).requeued).not.toContain(jobs.failed);
    expect((await acme.get(`/v1/jobs/${jobs.failed}`)).body).toMatchObject({ status: "failed", error: { code: "NO_TEXT" } });
    expect(await stack.deps.producer.queue("ingest").getJob(jobs.failed)).toBeUndefined();
  });

  it("refuse cleaning all failed jobs while the queue has an unfinished record, and allow it once the queue is idle", async () => {
    const workers = stack.workers!.workers;
    await Promise.all(workers.map((w) => w.pause()));
    let pending = "";
    try {
      const collection = (await acme.post("/v1/collections", { name: "bulk-clean" })).body.id;
      pending = (await acme.post(`/v1/collections/${collection}/documents`, { text: "Waiting while the workers are paused." })).body.job.id;
      const refused = await board.call("PUT", `${BOARD}/api/queues/ingest/clean/failed`);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: "BULL_BOARD_JOB_REFUSED", message: expect.stringContaining("still unfinished in Postgres") });
    } finally {
      await Promise.all(workers.map((w) => w.resume()));
    }
    expect((await ended(pending)).status).toBe("succeeded");
    expect((await board.call("PUT", `${BOARD}/api/queues/ingest/clean/failed`)).status).toBeLessThan(300);
  });

  it("are all refused server-side when BULL_BOARD_READ_ONLY=true, whatever the page shows", async () => {
    const url = await appWith({ BULL_BOARD_READ_ONLY: true });
    const readOnly = apiClient(url, ADMIN);
    const queues = (await readOnly.get(`${BOARD}/api/queues`)).body.queues as Json[];
    expect(queues.map((q) => [q.name, q.readOnlyMode, q.allowRetries])).toEqual(QUEUE_NAMES.map((name) => [name, true, false]));
    for (const path of ["/api/queues/backup/pause", "/api/queues/pause", `/api/queues/ingest/${jobs.succeeded}/clean`, "/api/queues/ingest/clean/completed"]) {
      const res = await readOnly.call("PUT", `${BOARD}${path}`);
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe("BULL_BOARD_READ_ONLY");
    }
    expect(await stack.deps.producer.queue("ingest").getJob(jobs.succeeded)).toBeDefined();
    expect(await stack.deps.producer.queue("backup").isPaused()).toBe(false);
  });
});
