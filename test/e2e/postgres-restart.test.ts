import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isDatabaseUnavailable } from "../../shared/db/pg-errors.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { spawnQuarry, startApiAndWorker, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";
import { findPostgresBin, startThrowawayPostgres, type ThrowawayPostgres } from "../helpers/throwaway-postgres.ts";

const alive = (p: QuarryProcess) => p.child.exitCode === null && p.child.signalCode === null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects a client that reports, rather than throws, its connection's errors. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (err: unknown) => err);

type Answer = Awaited<ReturnType<ApiClient["get"]>>;
/** A request that fails at the socket (the api died) becomes an answer with status 0, not a stray rejection. */
const settle = (promise: Promise<Answer>): Promise<Answer> =>
  promise.catch((err: unknown) => ({ status: 0, headers: new Headers(), body: { error: { code: String(err) } }, text: "" }));
/** Alive, or the assertion shows how it died. */
const expectAlive = (...procs: QuarryProcess[]) => {
  for (const p of procs) expect(alive(p), p.output().slice(-3_000)).toBe(true);
};

/** Asserts the answer of a request made while Postgres is down. */
function expectDatabaseUnavailable(res: { status: number; headers: Headers; body: { error?: { code?: string; retry_after?: number } } }) {
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBe("5");
  expect(res.body.error).toMatchObject({ code: "DATABASE_UNAVAILABLE", retry_after: 5 });
}

/**
 * Postgres goes away and comes back (its own throwaway server, never the shared one): the api and
 * worker processes live through it, answer 503 DATABASE_UNAVAILABLE meanwhile, and recover by
 * themselves; a process started while it is down waits for it.
 */
describe.skipIf(!findPostgresBin())("Postgres restarts", () => {
  let server: ThrowawayPostgres;
  let env: TestEnv;
  const started: QuarryProcess[] = [];

  beforeAll(async () => {
    server = await startThrowawayPostgres();
    // The database lives on the throwaway server; env.cleanup()'s DROP on the shared one is a no-op.
    env = createTestEnv({ DATABASE_URL: server.url("quarry"), LOG_LEVEL: "info", OPS_PORT: "0" });
  });

  afterAll(async () => {
    for (const p of started) await p.stop("SIGKILL");
    await server?.cleanup();
    await env?.cleanup();
  });

  it("tells an outage (refused, terminated) from a configuration or SQL error, on real errors", async () => {
    const victim = await connect(server.url());
    const killer = await connect(server.url());
    try {
      const { rows } = await victim.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const sleeping = failure(victim.query("SELECT pg_sleep(10)"));
      await sleep(100);
      await killer.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
      const terminated = await sleeping;
      expect(terminated).toMatchObject({ code: "57P01" });
      expect(isDatabaseUnavailable(terminated)).toBe(true);
      expect(isDatabaseUnavailable(await failure(victim.query("SELECT 1")))).toBe(true); // the broken client

      const syntax = await failure(killer.query("SELEKT 1"));
      expect(syntax).toMatchObject({ code: "42601" });
      expect(isDatabaseUnavailable(syntax)).toBe(false);
    } finally {
      await victim.end().catch(() => undefined);
      await killer.end();
    }
    const badRole = await failure(connect(`postgres://nobody@127.0.0.1:${server.port}/postgres`));
    expect(badRole).toMatchObject({ code: "28000" });
    expect(isDatabaseUnavailable(badRole)).toBe(false);
    const missingDb = await failure(connect(server.url("no_such_db")));
    expect(missingDb).toMatchObject({ code: "3D000" });
    expect(isDatabaseUnavailable(missingDb)).toBe(false);
  });

  describe("with an api and a worker running", () => {
    let procs: { api: QuarryProcess; worker: QuarryProcess; url: string };
    let client: ApiClient;
    let collectionId: string;
    let n = 0;

    async function ingest() {
      const res = await client.post(`/v1/collections/${collectionId}/documents`, { text: `Quarry survives Postgres restarts, document ${++n}.` });
      expect(res.status).toBe(202);
      return waitFor(async () => {
        const job = (await client.get(`/v1/jobs/${res.body.job.id}`)).body;
        return job?.status === "succeeded" ? job : undefined;
      }, 30_000, "the ingest job");
    }

    beforeAll(async () => {
      procs = await startApiAndWorker(env.env);
      started.push(procs.api, procs.worker);
      client = apiClient(procs.url, TEST_KEYS.acme);
      const collection = await client.post("/v1/collections", { name: "restarts" });
      expect(collection.status).toBe(201);
      collectionId = collection.body.id;
    });

    it("a worker lives through a restart while idle and processes the next job", async () => {
      await ingest(); // the worker's pool now holds idle connections
      await server.restart("fast");
      await sleep(500);
      expectAlive(procs.worker);
      expect(await ingest()).toMatchObject({ status: "succeeded" });
      expectAlive(procs.api);
    });

    /**
     * Makes sure both processes hold a checked-out connection inside a transaction when Postgres
     * goes away (the case that used to kill them): a lock on the chunks table stops the worker in
     * the transaction that stores a document's chunks, and a lock on the collection row stops
     * uploads in theirs. Returns the uploads that are stuck, and the stuck document's job.
     */
    async function holdTransactions(locker: pg.Client) {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE chunks IN SHARE MODE");
      const accepted = await client.post(`/v1/collections/${collectionId}/documents`, { text: `stuck in the worker ${++n}` });
      expect(accepted.status).toBe(202);
      await locker.query("SELECT 1 FROM collections WHERE id = $1 FOR UPDATE", [collectionId]);
      const uploads = [1, 2].map((i) => settle(client.post(`/v1/collections/${collectionId}/documents`, { text: `stuck in the api ${++n}.${i}` })));
      await waitFor(async () => {
        await locker.query("SELECT pg_stat_clear_snapshot()"); // else a transaction sees its first snapshot of the view
        const { rows } = await locker.query<{ query: string }>("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
        return rows.some((r) => /chunks/i.test(r.query)) && rows.filter((r) => /FOR SHARE/i.test(r.query)).length === 2;
      }, 15_000, "the worker and two uploads to wait on the locks");
      return { uploads, jobId: accepted.body.job.id as string };
    }

    it("both live through repeated restarts mid-transaction and under load, answer 503 DATABASE_UNAVAILABLE meanwhile, and recover", { timeout: 90_000 }, async () => {
      const first = await ingest();
      const answers: Array<{ status: number; code?: string; retryAfter: string | null }> = [];
      const stuckJobs: string[] = [];
      for (const mode of ["fast", "immediate", "fast"] as const) {
        const held = await holdTransactions(await connect(server.url("quarry")));
        stuckJobs.push(held.jobId);
        // Traffic besides: reads, search and more uploads while Postgres goes away.
        let load = true;
        const traffic = (async () => {
          while (load) {
            const results = await Promise.all([
              settle(client.post(`/v1/collections/${collectionId}/documents`, { text: `load ${mode} ${++n}` })),
              settle(client.get(`/v1/jobs/${first.id}`)),
              settle(client.post(`/v1/collections/${collectionId}/search`, { query: "restarts" })),
            ]);
            if (results.some((r) => r.status === 0)) break;
            await sleep(100); // every upload is an ingest job: keep the worker's backlog short
            for (const r of results) answers.push({ status: r.status, code: r.body?.error?.code, retryAfter: r.headers.get("retry-after") });
          }
        })();
        await sleep(200);
        await server.stop(mode);

        for (const upload of held.uploads) expectDatabaseUnavailable(await upload);
        const began = Date.now();
        const ready = await apiClient(procs.url).get("/ready");
        expect(ready.status).toBe(503);
        expect(ready.body.checks.postgres.status).toBe("down");
        expect(Date.now() - began).toBeLessThan(3_000);
        expectDatabaseUnavailable(await client.get(`/v1/jobs/${first.id}`));
        expectDatabaseUnavailable(await client.post(`/v1/collections/${collectionId}/documents`, { text: "while down" }));
        expectDatabaseUnavailable(await client.post(`/v1/collections/${collectionId}/search`, { query: "restarts" }));
        await sleep(300); // a connection's `error` event that nobody listens to kills the process a moment later
        expectAlive(procs.api, procs.worker);

        await server.start();
        await waitFor(async () => (await client.get(`/v1/jobs/${first.id}`)).status === 200, 15_000, "the api to answer again");
        load = false;
        await traffic;
        expectAlive(procs.api, procs.worker);
      }
      expect((await apiClient(procs.url).get("/ready")).status).toBe(200);
      expect(await ingest()).toMatchObject({ status: "succeeded" });
      // The jobs cut off mid-transaction are retried and finish.
      for (const id of stuckJobs) {
        let last: unknown;
        await waitFor(async () => {
          last = (await client.get(`/v1/jobs/${id}`)).body;
          return (last as { status?: string } | undefined)?.status === "succeeded";
        }, 45_000, `job ${id} to succeed`).catch((err: Error) => {
          throw new Error(`${err.message}; last seen: ${JSON.stringify(last)}`);
        });
      }

      // Under load, every answer was a success or a 503 that says to come back, never a 500.
      const failures = answers.filter((a) => a.status >= 400);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.filter((a) => !(a.status === 503 && a.code === "DATABASE_UNAVAILABLE" && a.retryAfter === "5"))).toEqual([]);
      for (const p of [procs.api, procs.worker]) expect(p.output()).not.toMatch(/Unhandled 'error' event|uncaught/i);
      // An outage is a warning, not a flood: the api logs failed requests at most every 10 s, and
      // connection errors of its pool at most every 10 s; nothing else at `error`.
      const api = procs.api.logs.filter((l) => Date.parse(String(l.time)) >= Date.parse(String(first.created_at)));
      expect(api.filter((l) => l.msg === "database unavailable").length).toBeLessThanOrEqual(4);
      expect(api.filter((l) => l.msg === "postgres pool error").length).toBeLessThanOrEqual(4);
      // (pino-http's own line per 5xx response is api/app.ts's business and is left out here.)
      const errors = api.filter((l) => l.level === "error" && l.msg !== "postgres pool error" && (l.res as { statusCode?: number } | undefined)?.statusCode !== 503);
      expect(errors.map((l) => l.msg)).toEqual([]);
    });
  });

  it("an api, a scheduler and `npm start`'s single process started while Postgres is down wait for it, then start", { timeout: 45_000 }, async () => {
    await server.stop("fast");
    try {
      const api = spawnQuarry("api/main.ts", env.env);
      const scheduler = spawnQuarry("scheduler/main.ts", env.env);
      const all = spawnQuarry("scripts/start-all.ts", env.env);
      started.push(api, scheduler, all);
      const procs = [api, scheduler, all];
      for (const p of procs) expect((await p.waitForLog((l) => l.msg === "waiting for postgres", 20_000)).level).toBe("warn");
      await sleep(1_500);
      expectAlive(...procs);

      await server.start();
      const listening = await api.waitForLog((l) => l.msg === "api listening", 30_000);
      await scheduler.waitForLog((l) => String(l.msg).startsWith("scheduler ready"), 30_000);
      const allListening = await all.waitForLog((l) => l.msg === "api listening", 30_000);
      // Ready once its Redis connection is up too (it connects in the background, in milliseconds).
      for (const url of [listening.url, allListening.url]) {
        await waitFor(async () => (await apiClient(String(url)).get("/ready")).status === 200, 5_000, `${String(url)}/ready`);
      }
      // Retries back off and the warning is throttled: not one line per attempt.
      for (const p of procs) expect(p.logs.filter((l) => l.msg === "waiting for postgres").length).toBeLessThanOrEqual(2);
      for (const p of procs) expect(await p.stop("SIGTERM")).toBe(0);
    } finally {
      if (!server.running()) await server.start();
    }
  });

  it("a process whose role Postgres refuses exits instead of waiting forever", async () => {
    if (!server.running()) await server.start();
    const bad = spawnQuarry("api/main.ts", { ...env.env, DATABASE_URL: `postgres://nobody@127.0.0.1:${server.port}/quarry` });
    started.push(bad);
    const code = await new Promise<number | null>((resolve) => bad.child.once("exit", resolve));
    expect(code).not.toBe(0);
    expect(bad.output()).toMatch(/role \\?"nobody\\?" does not exist/);
    expect(bad.logs.some((l) => l.msg === "waiting for postgres")).toBe(false);
  });
});
