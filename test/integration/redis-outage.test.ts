import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";
import { ThrowawayRedis } from "../helpers/throwaway-redis.ts";

/** Nothing is half-accepted: while Redis is down a request is refused whole, and nothing of it applies. */
describe("accepting work while Redis is down", () => {
  let redis: ThrowawayRedis;
  let stack: TestStack;
  let client: ApiClient;

  beforeAll(async () => {
    redis = await new ThrowawayRedis().start();
    stack = await startTestStack({ workers: true, env: { REDIS_URL: redis.url } });
    client = apiClient(stack.url, TEST_KEYS.acme);
  });
  afterAll(async () => {
    await redis?.start(); // workers drain and close through Redis
    await stack?.stop();
    await redis?.cleanup();
  });

  const ended = (jobId: string) =>
    waitFor(async () => {
      const job = (await client.get(`/v1/jobs/${jobId}`)).body;
      return ["succeeded", "failed", "cancelled"].includes(job.status) ? job : undefined;
    }, 30_000, `job ${jobId}`);

  it("refuses deletes, uploads and re-embeds with 503 and applies none of them; once Redis is back they work", { timeout: 90_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "outage" })).body;
    const upload = await client.post(`/v1/collections/${collection.id}/documents`, { text: "Refunds are paid within 14 days." });
    expect((await ended(upload.body.job.id)).status).toBe("succeeded");
    const documentId = upload.body.document.id;

    await redis.stop();
    await waitFor(async () => stack.deps.redis.status !== "ready", 10_000, "the api to notice Redis is gone");

    const deleteDocument = await client.delete(`/v1/documents/${documentId}`);
    expect(deleteDocument.status).toBe(503);
    expect(deleteDocument.body.error.code).toBe("QUEUE_UNAVAILABLE");
    expect(deleteDocument.headers.get("retry-after")).toBeTruthy();
    // Not applied: the document is still there, as it was.
    expect((await client.get(`/v1/documents/${documentId}`)).body).toMatchObject({ id: documentId, status: "ready" });

    const deleteCollection = await client.delete(`/v1/collections/${collection.id}`);
    expect(deleteCollection.status).toBe(503);
    expect((await client.get(`/v1/collections/${collection.id}`)).status).toBe(200);

    const refusedUpload = await client.post(`/v1/collections/${collection.id}/documents`, { text: "Uploaded while Redis was down." });
    expect(refusedUpload.status).toBe(503);
    expect((await client.get(`/v1/collections/${collection.id}/documents`)).body.data.map((d: { id: string }) => d.id)).toEqual([documentId]);

    const reembed = await client.post(`/v1/collections/${collection.id}/reembed`, { embedding: { provider: "local" } });
    expect(reembed.status).toBe(503);
    expect((await client.get(`/v1/collections/${collection.id}`)).body.reembedding_to).toBeUndefined();

    // The refused requests' jobs say why (DESIGN.md: "the row says so").
    const failed = (await client.get(`/v1/jobs?status=failed`)).body.data;
    expect(failed.map((j: { type: string }) => j.type).sort()).toEqual(["delete_collection", "delete_document", "ingest_document", "reembed_collection"]);
    expect(failed.every((j: { error: { code: string } }) => j.error.code === "QUEUE_UNAVAILABLE")).toBe(true);
    // A refused request is sent again, not retried as a job: retrying the delete alone would apply
    // it without hiding the document first.
    const refusedDelete = failed.find((j: { type: string }) => j.type === "delete_document");
    const retry = await client.post(`/v1/jobs/${refusedDelete.id}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe("JOB_NOT_RETRYABLE");

    // Redis comes back (empty): the same requests are accepted and finish.
    await redis.start();
    await waitFor(async () => stack.deps.redis.status === "ready", 15_000, "the api to reconnect");
    const again = await client.post(`/v1/collections/${collection.id}/documents`, { text: "Uploaded once Redis was back." });
    expect(again.status).toBe(202);
    expect((await ended(again.body.job.id)).status).toBe("succeeded");
    const deleted = await client.delete(`/v1/documents/${documentId}`);
    expect(deleted.status).toBe(202);
    expect((await ended(deleted.body.job.id)).status).toBe("succeeded");
    expect((await client.get(`/v1/documents/${documentId}`)).status).toBe(404);
  });
});
