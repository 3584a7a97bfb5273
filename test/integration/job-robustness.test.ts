import { UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedChunks } from "../../shared/use-cases/embed-chunks.ts";
import { finalizeReembed } from "../../shared/use-cases/reembed.ts";
import { reconcileJobs } from "../../shared/use-cases/reconcile-jobs.ts";
import { startWorkers } from "../../workers/worker-pool.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { postForEvents } from "../helpers/sse.ts";
import { REDIS_URL, TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let stack: TestStack;
let client: ApiClient;

beforeAll(async () => {
  stack = await startTestStack();
  client = apiClient(stack.url, TEST_KEYS.acme);
});
afterAll(async () => {
  await stack?.stop();
});

const settled = (jobId: string) =>
  waitFor(async () => {
    const job = (await client.get(`/v1/jobs/${jobId}`)).body;
    return ["succeeded", "failed"].includes(job.status) ? job : undefined;
  }, 30_000, `job ${jobId}`);

/** Runs the real workers for the duration of `fn`. */
async function withWorkers<T>(fn: () => Promise<T>): Promise<T> {
  const pool = await startWorkers(stack.deps);
  try {
    return await fn();
  } finally {
    await pool.close();
  }
}

describe("the worker pool", () => {
  it("starts one BullMQ Worker per queue the job catalog uses", async () => {
    const pool = await startWorkers(stack.deps);
    try {
      expect(pool.workers.map((w) => w.name).sort()).toEqual(["backup", "embed", "ingest", "workflow"]);
    } finally {
      await pool.close();
    }
  });
});

describe("the reconciler", () => {
  it("settles a job that BullMQ failed without the job record hearing of it", async () => {
    const collection = (await client.post("/v1/collections", { name: "settle" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "a document whose job fails behind our back" });
    // A bare BullMQ worker fails the job without touching Postgres (as when Postgres is down).
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const rogue = new Worker("ingest", async () => { throw new UnrecoverableError("DOCUMENT_CORRUPT: broken by the test"); }, { connection, prefix: stack.env.prefix });
    await waitFor(async () => (await stack.deps.producer.queue("ingest").getJobState(res.body.job.id)) === "failed", 10_000, "the rogue failure");
    await rogue.close();
    connection.disconnect();
    expect((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status).toBe("queued");

    const outcome = await reconcileJobs(stack.deps, 0);
    expect(outcome.settled).toContain(res.body.job.id);
    expect((await client.get(`/v1/jobs/${res.body.job.id}`)).body).toMatchObject({ status: "failed", error: { code: "DOCUMENT_CORRUPT", message: "broken by the test" } });
    expect((await client.get(`/v1/documents/${res.body.document.id}`)).body).toMatchObject({ status: "failed", error: { code: "DOCUMENT_CORRUPT" } });
  });

  it("re-enqueues a job that Redis lost, and it then runs to the end", async () => {
    const collection = (await client.post("/v1/collections", { name: "lost" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "a document whose queue entry vanished" });
    await stack.deps.producer.queue("ingest").remove(res.body.job.id);
    expect(await stack.deps.producer.queue("ingest").getJobState(res.body.job.id)).toBe("unknown");
    const outcome = await reconcileJobs(stack.deps, 0);
    expect(outcome.requeued).toContain(res.body.job.id);
    const job = await withWorkers(() => settled(res.body.job.id));
    expect(job.status).toBe("succeeded");
    expect((await client.get(`/v1/documents/${res.body.document.id}`)).body.status).toBe("ready");
  });
});

describe("races and reruns", () => {
  it("a batch that embeds a document deleted meanwhile removes what it wrote", async () => {
    const collection = (await client.post("/v1/collections", { name: "race" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "one paragraph\n\nanother paragraph" });
    await withWorkers(() => settled(res.body.job.id));
    const ref = { tenantId: "acme", collectionId: collection.id };
    const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
    // The batch has read its chunks and is embedding when the delete request and the delete job
    // run; then the batch writes its vectors.
    const real = stack.deps.vectorStore;
    const racing = Object.create(real) as typeof real;
    racing.upsert = async (r, points) => {
      expect(await stack.deps.documents.markDeleting("acme", doc.id)).toBe(true);
      await real.deleteDocument(r, doc.id);
      await real.upsert(r, points);
      expect(await real.count(ref, doc.id)).toBe(doc.chunk_count);
    };
    // The batch belongs to an ingest that is still running (a batch of an ended job does nothing).
    await stack.deps.db.query(`UPDATE jobs SET status = 'running', finished_at = NULL WHERE id = $1`, [res.body.job.id]);
    const outcome = await embedChunks({ ...stack.deps, vectorStore: racing }, {
      tenant_id: "acme",
      collection_id: collection.id,
      vector_version: 0,
      embedding: collection.embedding,
      from: { document_id: doc.id, chunk_index: 0 },
      to: { document_id: doc.id, chunk_index: doc.chunk_count - 1 },
      parent_job_id: res.body.job.id,
      progress: { base: 20, span: 79 },
      ready_only: false,
    }, async () => undefined);
    expect(outcome).toEqual({ done: doc.chunk_count });
    expect(await stack.deps.vectorStore.count(ref, doc.id)).toBe(0);
  });

  it("running the last step of a finished re-embed again changes nothing", async () => {
    const collection = (await client.post("/v1/collections", { name: "rerun" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "vectors that must survive a rerun" });
    const job = await withWorkers(async () => {
      await settled(res.body.job.id);
      const reembed = await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "local", dimensions: 128 } });
      return settled(reembed.body.job.id);
    });
    expect(job).toMatchObject({ status: "succeeded", result: { vector_version: 1, chunk_count: 1 } });
    const again = await finalizeReembed(
      stack.deps,
      { tenant_id: "acme", collection_id: collection.id, embedding: { provider: "local", model: "quarry-hash-v1", dimensions: 128 }, target_version: 1 },
      job.id,
    );
    expect(again).toMatchObject({ vector_version: 1, chunk_count: 1 });
    expect((await client.get(`/v1/collections/${collection.id}`)).body.embedding.dimensions).toBe(128);
    const search = await client.post(`/v1/collections/${collection.id}/search`, { query: "vectors survive" });
    expect(search.body.data).toHaveLength(1);
  });
});

describe("cancelling and following jobs", () => {
  it("cancels a job that has not started: it leaves the queue and its document fails CANCELLED", async () => {
    const collection = (await client.post("/v1/collections", { name: "cancel" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "never mind" });
    const cancel = await client.post(`/v1/jobs/${res.body.job.id}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body.job).toMatchObject({ status: "cancelled", error: { code: "CANCELLED" } });
    expect(await stack.deps.producer.queue("ingest").getJobState(res.body.job.id)).toBe("unknown");
    expect((await client.get(`/v1/documents/${res.body.document.id}`)).body).toMatchObject({ status: "failed", error: { code: "CANCELLED" } });
    // Workers find nothing to run, and the record stays cancelled.
    await withWorkers(() => new Promise((r) => setTimeout(r, 500)));
    expect((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status).toBe("cancelled");
    const again = await client.post(`/v1/jobs/${res.body.job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("JOB_NOT_CANCELLABLE");
  });

  it("does not cancel deletions", async () => {
    const collection = (await client.post("/v1/collections", { name: "no-cancel" })).body;
    const del = await client.delete(`/v1/collections/${collection.id}`);
    const res = await client.post(`/v1/jobs/${del.body.job.id}/cancel`);
    expect(res.status).toBe(409);
    await withWorkers(() => settled(del.body.job.id));
  });

  it("streams a job's progress over SSE until it ends", { timeout: 30_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "follow" })).body;
    const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: "followed from queued to succeeded" });
    const following = postForEvents(`${stack.url}/v1/jobs/${res.body.job.id}/events`, TEST_KEYS.acme, undefined, { method: "GET" });
    const { events } = await withWorkers(() => following);
    expect(events[0]).toMatchObject({ event: "progress", data: { id: res.body.job.id, status: "queued" } });
    expect(events.at(-1)).toMatchObject({ event: "end", data: { status: "succeeded", progress: 100 } });
    expect(events.slice(0, -1).every((e) => e.event === "progress")).toBe(true);
    expect((await apiClient(stack.url, TEST_KEYS.globex).get(`/v1/jobs/${res.body.job.id}/events`)).status).toBe(404);

    // A client that reconnects with Last-Event-ID gets what came after that event, in order.
    const logged = await stack.deps.jobs.eventsAfter(res.body.job.id, 0);
    expect(logged.at(-1)!.type).toBe("end");
    expect(logged.length).toBeGreaterThan(1);
    const resumed = await postForEvents(`${stack.url}/v1/jobs/${res.body.job.id}/events`, TEST_KEYS.acme, undefined, {
      method: "GET",
      headers: { "last-event-id": String(logged[0]!.id) },
    });
    expect(resumed.events.map((e) => [e.id, e.event])).toEqual(logged.slice(1).map((e) => [String(e.id), e.type]));
    expect(resumed.events.at(-1)!.data).toEqual((await client.get(`/v1/jobs/${res.body.job.id}`)).body);
  });
});
