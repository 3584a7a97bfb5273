import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile } from "../helpers/http.ts";
import { TEST_KEYS } from "../helpers/test-env.ts";

/** A port on which nothing listens. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe("when Redis is down", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { REDIS_URL: `redis://127.0.0.1:${await deadPort()}` } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("/ready answers 503 with Retry-After and names Redis", async () => {
    const res = await apiClient(stack.url).get("/ready");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.body.checks.redis.status).toBe("down");
    expect(res.body.checks.postgres.status).toBe("ok");
  });

  it("refuses a document with 503 and leaves nothing half-accepted", async () => {
    const client = apiClient(stack.url, TEST_KEYS.acme);
    const collection = await client.post("/v1/collections", { name: "offline" });
    expect(collection.status).toBe(201);
    const res = await client.post(`/v1/collections/${collection.body.id}/documents`, { text: "cannot be queued" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.body.error).toMatchObject({ code: "QUEUE_UNAVAILABLE", retry_after: 5 });
    const { rows: jobs } = await stack.deps.db.query("SELECT status, error FROM jobs");
    expect(jobs).toEqual([{ status: "failed", error: { code: "QUEUE_UNAVAILABLE", message: expect.any(String) } }]);
    // The document was never accepted: nothing is left that would answer a retry with 200.
    expect((await stack.deps.db.query("SELECT count(*) FROM documents")).rows[0].count).toBe(0);
    expect((await stack.deps.db.query("SELECT count(*) FROM document_sources")).rows[0].count).toBe(0);
  });
});

describe("size limits", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { MAX_FILE_SIZE: "1000" } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("answers 413 PAYLOAD_TOO_LARGE for a text over MAX_FILE_SIZE", async () => {
    const client = apiClient(stack.url, TEST_KEYS.acme);
    const collection = await client.post("/v1/collections", { name: "small" });
    const over = await client.post(`/v1/collections/${collection.body.id}/documents`, { text: "x".repeat(1050) });
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    const farOver = await client.post(`/v1/collections/${collection.body.id}/documents`, { text: "x".repeat(200_000) });
    expect(farOver.status).toBe(413);
    expect(farOver.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await stack.deps.db.query("SELECT count(*) FROM documents")).rows[0].count).toBe(0);
  });
});

describe("multipart size limit", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { MAX_FILE_SIZE: "50000" } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("answers 413 for a file over MAX_FILE_SIZE and keeps nothing", async () => {
    const client = apiClient(stack.url, TEST_KEYS.acme);
    const collection = await client.post("/v1/collections", { name: "small-files" });
    const res = await uploadFile(stack.url, TEST_KEYS.acme, collection.body.id, { name: "big.pdf", content: corpusFile("pdf/tracemonkey.pdf") });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect((await stack.deps.db.query("SELECT count(*) FROM documents")).rows[0].count).toBe(0);
    const small = await uploadFile(stack.url, TEST_KEYS.acme, collection.body.id, { name: "ok.pdf", content: corpusFile("pdf/issue6010_1.pdf") });
    expect(small.status).toBe(202);
  });
});
