import { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config/env.ts";
import { createDeps, type Deps } from "../../shared/deps.ts";
import { endJob, type JobOutcome } from "../../shared/jobs/end-job.ts";
import { relayOutbox } from "../../shared/jobs/outbox-relay.ts";
import { createLogger } from "../../shared/logging/logger.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS } from "../helpers/test-env.ts";

// No workers and no housekeeper: the jobs stay queued, the test ends them and relays their outbox
// rows the way racing processes would.
let stack: TestStack;
let client: ApiClient;
/** A second process's connections (its own pool) on the same database. */
let other: Deps;
let collectionId: string;

beforeAll(async () => {
  stack = await startTestStack({ housekeeping: false });
  client = apiClient(stack.url, TEST_KEYS.acme);
  const config = loadConfig(stack.env.env);
  other = await createDeps(config, createLogger(config, "other"));
  collectionId = (await client.post("/v1/collections", { name: "races" })).body.id;
});
afterAll(async () => {
  await other?.close();
  await stack?.stop();
});

async function queuedIngest(text: string): Promise<{ jobId: string; documentId: string }> {
  const res = await client.post(`/v1/collections/${collectionId}/documents`, { text });
  expect(res.status).toBe(202);
  return { jobId: res.body.job.id, documentId: res.body.document.id };
}

/** What a housekeeper would do: run the ended jobs' side effects (a retry waits for them). */
const relayAll = async () => {
  while ((await relayOutbox(stack.deps)) > 0);
};

const count = async (sql: string, params: unknown[]) => Number((await stack.deps.db.query(sql, params)).rows[0].n);

describe("the one place a job ends", () => {
  it("ends a job exactly once when two processes race, with one outbox row, one end event and one onEnd", async () => {
    const jobs = await Promise.all(Array.from({ length: 12 }, (_, i) => queuedIngest(`race number ${i} of the job ends`)));
    for (const { jobId, documentId } of jobs) {
      const outcomes: JobOutcome[] = [
        { status: "succeeded", result: { by: "first" } },
        { status: "failed", error: { code: "SECOND", message: "the second process" } },
      ];
      const [a, b] = await Promise.all([endJob(stack.deps, jobId, outcomes[0]!), endJob(other, jobId, outcomes[1]!)]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      const winner = (a ?? b)!;
      const job = (await client.get(`/v1/jobs/${jobId}`)).body;
      expect(job.status).toBe(winner.status);
      expect(await count(`SELECT count(*) AS n FROM outbox WHERE job_id = $1`, [jobId])).toBe(1);
      expect(await count(`SELECT count(*) AS n FROM job_events WHERE job_id = $1 AND type = 'end'`, [jobId])).toBe(1);
      // The onEnd hook ran with the winner's outcome, in the same transaction.
      const document = (await client.get(`/v1/documents/${documentId}`)).body;
      expect(document.status).toBe(winner.status === "succeeded" ? "ready" : "failed");
      if (winner.status === "failed") expect(document.error).toEqual({ code: "SECOND", message: "the second process" });
    }
  });

  it("does not end a job twice: a later end changes nothing and writes nothing", async () => {
    const { jobId } = await queuedIngest("ended once and only once");
    expect(await endJob(stack.deps, jobId, { status: "cancelled" })).toBeDefined();
    expect(await endJob(stack.deps, jobId, { status: "succeeded", result: {} })).toBeUndefined();
    const job = (await client.get(`/v1/jobs/${jobId}`)).body;
    expect(job).toMatchObject({ status: "cancelled", error: { code: "CANCELLED" } });
    expect(await count(`SELECT count(*) AS n FROM outbox WHERE job_id = $1`, [jobId])).toBe(1);
  });

  it("gives each run of a retried job its own end: a second outbox row, for run 2", async () => {
    const { jobId } = await queuedIngest("fails, is retried, and ends again");
    await endJob(stack.deps, jobId, { status: "failed", error: { code: "EMBEDDING_PROVIDER_ERROR", message: "the provider failed" } });
    // No relay has run: the retry runs the first run's cleanup itself before it starts run 2.
    expect((await client.post(`/v1/jobs/${jobId}/retry`)).status).toBe(202);
    expect((await stack.deps.outbox.forJob(jobId))[0]!.processed_at).not.toBeNull();
    await endJob(stack.deps, jobId, { status: "cancelled" });
    const rows = await stack.deps.outbox.forJob(jobId);
    expect(rows.map((r) => [r.run, r.payload.status])).toEqual([
      [1, "failed"],
      [2, "cancelled"],
    ]);
  });

  it("retries only once no worker still holds the last run: it waits for the lock, or answers 409", { timeout: 20_000 }, async () => {
    const { jobId } = await queuedIngest("a processor still winds down after its job ended");
    await endJob(stack.deps, jobId, { status: "failed", error: { code: "EMBEDDING_PROVIDER_ERROR", message: "the provider failed" } });
    await relayAll();
    // As a processor would: it holds its job's lock until it lets go.
    const lock = `${stack.deps.producer.queueFor("ingest_document").toKey(jobId)}:lock`;
    await stack.deps.redis.set(lock, "a-worker-token", "PX", 30_000);
    const released = new Promise((resolve) => setTimeout(() => resolve(stack.deps.redis.del(lock)), 600));
    const started = Date.now();
    const retry = await client.post(`/v1/jobs/${jobId}/retry`);
    expect(retry.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    await released;

    await endJob(stack.deps, jobId, { status: "failed", error: { code: "EMBEDDING_PROVIDER_ERROR", message: "again" } });
    await relayAll();
    await stack.deps.redis.set(lock, "a-stuck-worker", "PX", 30_000);
    const refused = await client.post(`/v1/jobs/${jobId}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "JOB_NOT_RETRYABLE", retry_after: 5 });
    expect((await client.get(`/v1/jobs/${jobId}`)).body.status).toBe("failed");
    await stack.deps.redis.del(lock);
  });

  it("writes the job as it ended into the outbox, the same JSON GET /v1/jobs/:id answers", async () => {
    const { jobId } = await queuedIngest("the outbox holds the job");
    await endJob(stack.deps, jobId, { status: "failed", error: { code: "NO_TEXT", message: "nothing to read" } });
    const [row] = await stack.deps.outbox.forJob(jobId);
    expect(row).toMatchObject({ topic: "job.ended", tenant_id: "acme" });
    expect(row!.payload).toEqual((await client.get(`/v1/jobs/${jobId}`)).body);
  });
});

describe("retry and cancel at the edges", () => {
  it("refuses to retry an ingest while its collection is being re-embedded, as it refuses an upload", async () => {
    const collection = (await client.post("/v1/collections", { name: "busy-for-retry" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "failed before the re-embed began" });
    await endJob(stack.deps, res.body.job.id, { status: "cancelled" });
    await relayAll();
    expect((await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "local" } })).status).toBe(202);
    const retry = await client.post(`/v1/jobs/${res.body.job.id}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe("COLLECTION_BUSY");
    expect((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status).toBe("cancelled");
  });

  it("accepts a cancel once it is recorded, even when Redis then fails to take the job off the queue", async () => {
    const { jobId } = await queuedIngest("Redis fails while this is cancelled");
    const remove = Job.prototype.remove;
    Job.prototype.remove = async () => Promise.reject(new Error("Connection is closed."));
    try {
      const cancel = await client.post(`/v1/jobs/${jobId}/cancel`);
      expect(cancel.status).toBe(202);
      expect(cancel.body.job).toMatchObject({ status: "queued", cancel_requested_at: expect.any(String) });
    } finally {
      Job.prototype.remove = remove;
    }
  });
});

describe("the outbox relay", () => {
  it("hands each row to exactly one relay while several processes relay at the same time", async () => {
    const jobs = await Promise.all(Array.from({ length: 30 }, (_, i) => queuedIngest(`relay me ${i}`)));
    for (const { jobId } of jobs) await endJob(stack.deps, jobId, { status: "cancelled" });
    const seen: string[] = []; // outbox row ids
    const handlers = { "job.ended": [async (_deps: Deps, row: { id: number }) => void seen.push(String(row.id))] };
    const drain = async (deps: Deps) => {
      while ((await relayOutbox(deps, handlers, 5)) > 0);
    };
    // Two relays in this process and two in the other, all at once.
    await Promise.all([drain(stack.deps), drain(other), drain(stack.deps), drain(other)]);
    expect(new Set(seen).size).toBe(seen.length);
    const ids = jobs.map((j) => j.jobId);
    const rows = (await stack.deps.db.query(`SELECT processed_at, attempts, last_error FROM outbox WHERE job_id = ANY($1::uuid[])`, [ids])).rows;
    expect(rows).toHaveLength(ids.length);
    // Processed once each: a second processing would have counted a second attempt.
    expect(rows.filter((r: { processed_at: Date | null; attempts: number }) => r.processed_at === null || r.attempts !== 1)).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
  });

  it("leaves a row whose handler fails for a later try, with backoff and the error", async () => {
    const { jobId } = await queuedIngest("a handler that fails");
    await endJob(stack.deps, jobId, { status: "cancelled" });
    const failing = { "job.ended": [async () => Promise.reject(new Error("the receiver is down"))] };
    expect(await relayOutbox(stack.deps, failing)).toBe(0);
    const [row] = await stack.deps.outbox.forJob(jobId);
    expect(row).toMatchObject({ attempts: 1, last_error: "the receiver is down", processed_at: null });
    expect(row!.available_at.getTime()).toBeGreaterThan(Date.now());
    // Not due yet: a relay now leaves it alone.
    let handled = 0;
    await relayOutbox(stack.deps, { "job.ended": [async () => void handled++] });
    expect(handled).toBe(0);
  });
});
