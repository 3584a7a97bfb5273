import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkers } from "../../workers/worker-pool.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

/**
 * Rows that missed their job's end, or whose BullMQ job Redis lost, heal within seconds from any
 * process's housekeeper — here only the api's (no scheduler, no reconcile schedule).
 */
describe("healing job records", () => {
  let stack: TestStack;
  let client: ApiClient;
  let collectionId: string;

  beforeAll(async () => {
    stack = await startTestStack();
    client = apiClient(stack.url, TEST_KEYS.acme);
    collectionId = (await client.post("/v1/collections", { name: "heal" })).body.id;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const job = async (id: string) => (await client.get(`/v1/jobs/${id}`)).body;
  /** Makes the row look as if it had not moved for a minute. */
  const age = (id: string) => stack.deps.db.query(`UPDATE jobs SET updated_at = now() - interval '1 minute' WHERE id = $1`, [id]);
  /**
   * Ingests `text` to the end, then puts the records back as if the worker's success had never
   * been written (Postgres dropped the connection at that moment): BullMQ says completed, the row running.
   */
  async function ingestAndForgetItsEnd(text: string) {
    const res = await client.post(`/v1/collections/${collectionId}/documents`, { text });
    const pool = await startWorkers(stack.deps);
    try {
      await waitFor(async () => (await job(res.body.job.id)).status === "succeeded", 30_000, "the ingest");
    } finally {
      await pool.close();
    }
    await stack.deps.db.query(`UPDATE jobs SET status = 'running', finished_at = NULL, result = NULL WHERE id = $1`, [res.body.job.id]);
    await stack.deps.db.query(`UPDATE documents SET status = 'processing' WHERE id = $1`, [res.body.document.id]);
    return { jobId: res.body.job.id as string, documentId: res.body.document.id as string };
  }

  it("ends a row left running after its job completed (its success could not be written), and its document turns ready", async () => {
    const { jobId, documentId } = await ingestAndForgetItsEnd("The success of this job was never written down.");
    await age(jobId);
    const started = Date.now();
    const healed = await waitFor(async () => {
      const current = await job(jobId);
      return current.status === "succeeded" ? current : undefined;
    }, 15_000, "the row to heal");
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(healed.result).toMatchObject({ document_id: documentId });
    expect((await client.get(`/v1/documents/${documentId}`)).body.status).toBe("ready");
  });

  it("does not cancel a job BullMQ has finished but whose record has not heard yet: 409, and the record is settled", async () => {
    const { jobId, documentId } = await ingestAndForgetItsEnd("Finished just before the cancel arrived.");
    const cancel = await client.post(`/v1/jobs/${jobId}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe("JOB_NOT_CANCELLABLE");
    expect((await job(jobId)).status).toBe("succeeded");
    expect((await client.get(`/v1/documents/${documentId}`)).body.status).toBe("ready");
  });

  it("goes on past a record it cannot handle: one bad row does not hold up the rest", async () => {
    const { reconcileJobs } = await import("../../shared/use-cases/reconcile-jobs.ts");
    const lost = await client.post(`/v1/collections/${collectionId}/documents`, { text: "Lost behind a broken row." });
    await (await stack.deps.producer.queueFor("ingest_document").getJob(lost.body.job.id))!.remove();
    const bad = await stack.deps.db.query(
      `INSERT INTO jobs (id, tenant_id, type, max_attempts, payload, updated_at) VALUES (gen_random_uuid(), 'acme', 'ingest_document', 5, '{"nonsense": true}', now() - interval '2 minutes') RETURNING id`,
    );
    await age(lost.body.job.id);
    // (The api's own housekeeper may get to either row first; what matters is where both end up.)
    await reconcileJobs(stack.deps, 1_000);
    expect(await stack.deps.producer.queueFor("ingest_document").getJobState(lost.body.job.id)).not.toBe("unknown");
    expect(await stack.deps.jobs.findById(bad.rows[0].id)).toMatchObject({ status: "failed", error: { code: "INVALID_PAYLOAD" } });
  });

  it("runs again a row whose BullMQ job a worker skipped (it found the row ended at the time), instead of calling it done", async () => {
    const { Worker } = await import("bullmq");
    const { Redis } = await import("ioredis");
    const res = await client.post(`/v1/collections/${collectionId}/documents`, { text: "Skipped once, done later." });
    // A worker that found the row ended: it completes the BullMQ job and does nothing.
    const connection = new Redis(stack.env.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const skipper = new Worker("ingest", async () => ({ skipped: true }), { connection, prefix: stack.env.prefix });
    try {
      await waitFor(async () => (await stack.deps.producer.queueFor("ingest_document").getJobState(res.body.job.id)) === "completed", 10_000, "the skip");
    } finally {
      await skipper.close();
      connection.disconnect();
    }
    await age(res.body.job.id);
    const { reconcileJobs } = await import("../../shared/use-cases/reconcile-jobs.ts");
    await reconcileJobs(stack.deps, 1_000);
    expect((await job(res.body.job.id)).status).toBe("queued");
    const pool = await startWorkers(stack.deps);
    try {
      const done = await waitFor(async () => {
        const current = await job(res.body.job.id);
        return current.status === "succeeded" ? current : undefined;
      }, 30_000, "the real run");
      expect(done.result).toMatchObject({ document_id: res.body.document.id, chunk_count: 1 });
    } finally {
      await pool.close();
    }
  });

  it("a worker that takes a re-queued job before the retry commits waits for it, and runs it for real", { timeout: 30_000 }, async () => {
    const { withTransaction } = await import("../../shared/db/transaction.ts");
    const { lockAcceptance } = await import("../../shared/use-cases/jobs.ts");
    const { endJob } = await import("../../shared/jobs/end-job.ts");
    const res = await client.post(`/v1/collections/${collectionId}/documents`, { text: "Retried while a worker was quick." });
    const queue = stack.deps.producer.queueFor("ingest_document");
    await (await queue.getJob(res.body.job.id))!.remove();
    await endJob(stack.deps, res.body.job.id, { status: "failed", error: { code: "EMBEDDING_PROVIDER_ERROR", message: "failed once" } });
    const pool = await startWorkers(stack.deps);
    try {
      // What retryJob does, with the commit held back while the worker already has the job.
      await withTransaction(stack.deps.db, async (tx) => {
        await tx.jobs.resetForRetry("acme", res.body.job.id, ["failed"]);
        await tx.documents.requeue(res.body.document.id);
        await lockAcceptance(tx, res.body.job.id);
        await stack.deps.producer.enqueue("ingest_document", res.body.job.id, {
          tenant_id: "acme",
          collection_id: collectionId,
          document_id: res.body.document.id,
        });
        await new Promise((r) => setTimeout(r, 1_500));
      });
      const done = await waitFor(async () => {
        const current = await job(res.body.job.id);
        return current.status === "succeeded" || current.status === "failed" ? current : undefined;
      }, 10_000, "the retried run");
      expect(done).toMatchObject({ status: "succeeded", result: { chunk_count: 1 } });
      expect((await client.get(`/v1/documents/${res.body.document.id}`)).body).toMatchObject({ status: "ready", chunk_count: 1 });
    } finally {
      await pool.close();
    }
  });

  it("enqueues again a queued row whose BullMQ job Redis lost, and it runs to the end", async () => {
    const res = await client.post(`/v1/collections/${collectionId}/documents`, { text: "Redis forgot about this job." });
    const queued = await stack.deps.producer.queueFor("ingest_document").getJob(res.body.job.id);
    await queued!.remove();
    await age(res.body.job.id);
    await waitFor(async () => (await stack.deps.producer.queueFor("ingest_document").getJobState(res.body.job.id)) !== "unknown", 15_000, "the job to be queued again");
    const pool = await startWorkers(stack.deps);
    try {
      await waitFor(async () => (await job(res.body.job.id)).status === "succeeded", 30_000, "the ingest");
    } finally {
      await pool.close();
    }
    expect((await client.get(`/v1/documents/${res.body.document.id}`)).body.status).toBe("ready");
  });
});

describe("deleting a collection while its uploads are ingesting", () => {
  let stub: OpenAIStub;
  let stack: TestStack;
  let client: ApiClient;

  beforeAll(async () => {
    stub = await new OpenAIStub().start();
    stub.embeddingDelayMs = 150;
    stack = await startTestStack({
      workers: true,
      env: { OPENAI_API_KEY: "sk-test-delete", OPENAI_BASE_URL: stub.url, EMBEDDING_DIMENSIONS: "16", EMBED_BATCH_SIZE: "2" },
    });
    client = apiClient(stack.url, TEST_KEYS.acme);
  });
  afterAll(async () => {
    await stack?.stop();
    await stub?.stop();
  });

  it("leaves no vectors behind, stops the ingests, and refuses racing uploads with 404", { timeout: 60_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "short-lived" })).body;
    const text = (n: number) => Array.from({ length: 60 }, (_, i) => `Paragraph ${i} of document ${n} talks about refunds, invoices and the ledger.`).join("\n\n");
    const uploads = await Promise.all([1, 2, 3].map((n) => client.post(`/v1/collections/${collection.id}/documents`, { text: text(n) })));
    expect(uploads.map((u) => u.status)).toEqual([202, 202, 202]);
    const ref = { tenantId: "acme", collectionId: collection.id, version: 0 };
    // Some vectors are stored: the ingests are midway.
    await waitFor(async () => (await stack.deps.vectorStore.count(ref).catch(() => 0)) > 0, 30_000, "vectors to be stored");

    const deletion = await client.delete(`/v1/collections/${collection.id}`);
    expect(deletion.status).toBe(202);
    const late = await client.post(`/v1/collections/${collection.id}/documents`, { text: "too late" });
    expect(late.status).toBe(404);

    const jobIds = [deletion.body.job.id, ...uploads.map((u) => u.body.job.id)];
    const ended = await waitFor(async () => {
      const jobs = await Promise.all(jobIds.map(async (id) => (await client.get(`/v1/jobs/${id}`)).body));
      return jobs.every((j) => ["succeeded", "failed", "cancelled"].includes(j.status)) ? jobs : undefined;
    }, 30_000, "every job to end");
    expect(ended[0].status).toBe("succeeded");
    for (const ingest of ended.slice(1)) expect(["cancelled", "failed", "succeeded"]).toContain(ingest.status);
    // Batches still in flight when the collection went away clean up after themselves.
    await new Promise((r) => setTimeout(r, 1_000));
    await waitFor(async () => (await stack.deps.vectorStore.count(ref).catch(() => 0)) === 0, 15_000, "no vectors left");
    expect((await stack.deps.db.query(`SELECT count(*) FROM documents WHERE collection_id = $1`, [collection.id])).rows[0].count).toBe(0);
  });
});
