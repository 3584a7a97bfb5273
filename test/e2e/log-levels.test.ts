import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { startApiAndWorker, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";
import { ThrowawayRedis } from "../helpers/throwaway-redis.ts";

/** Operators alert on `error`: a user's broken file is not one, and an outage is a few lines, not hundreds. */
describe("what reaches the error level", () => {
  let redis: ThrowawayRedis;
  let env: TestEnv;
  let api: QuarryProcess;
  let worker: QuarryProcess;
  let client: ApiClient;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    redis = await new ThrowawayRedis().start();
    env = createTestEnv({ LOG_LEVEL: "info", REDIS_URL: redis.url });
    ({ api, worker, stop } = await startApiAndWorker(env.env));
    client = apiClient(String(api.logs.find((l) => l.msg === "api listening")!.url), TEST_KEYS.acme);
  });
  afterAll(async () => {
    await redis?.start();
    await stop?.();
    await redis?.cleanup();
    await env?.cleanup();
  });

  const errorsOf = (p: QuarryProcess, since = 0) => p.logs.slice(since).filter((l) => l.level === "error" || l.level === "fatal");

  it("logs documents that cannot be processed (encrypted, corrupt, no text) at info, without a stack", async () => {
    const collection = (await client.post("/v1/collections", { name: "broken-files" })).body;
    const files = [
      ["pdf/issue3371.pdf", "PDF_ENCRYPTED"],
      ["pdf/bug1020226.pdf", "DOCUMENT_CORRUPT"],
      ["docx/tiny-picture.docx", "NO_TEXT"],
    ] as const;
    for (const [file, code] of files) {
      const res = await uploadFile(client.baseUrl, TEST_KEYS.acme, collection.id, { name: file.split("/")[1]!, content: corpusFile(file) });
      const job = await waitFor(async () => {
        const current = (await client.get(`/v1/jobs/${res.body.job.id}`)).body;
        return current.status === "failed" ? current : undefined;
      }, 30_000, `${file} to fail`);
      expect(job.error.code).toBe(code);
      // The record ends before the worker writes its line, and stdout arrives when it arrives.
      const line = await worker.waitForLog((l) => l.jobId === res.body.job.id && l.code === code, 10_000);
      expect(line).toMatchObject({ level: "info", msg: "job failed: the document cannot be processed" });
      expect(JSON.stringify(line)).not.toContain("stack");
    }
    expect(errorsOf(worker)).toEqual([]);
    expect(errorsOf(api)).toEqual([]);
  });

  it("writes a handful of error lines, not hundreds, over a Redis outage", { timeout: 60_000 }, async () => {
    const apiMark = api.logs.length;
    const workerMark = worker.logs.length;
    await redis.stop();
    // Traffic during the outage: refused uploads and job reads.
    const collection = (await client.post("/v1/collections", { name: "during-outage" })).body;
    const deadline = Date.now() + 12_000;
    while (Date.now() < deadline) {
      const res = await client.post(`/v1/collections/${collection.id}/documents`, { text: `written at ${Date.now()}` });
      expect(res.status).toBe(503);
      await new Promise((r) => setTimeout(r, 250));
    }
    await redis.start();
    await waitFor(async () => (await client.post(`/v1/collections/${collection.id}/documents`, { text: "back again" })).status === 202, 20_000, "Redis to be back");
    const apiErrors = errorsOf(api, apiMark);
    const workerErrors = errorsOf(worker, workerMark);
    // About one line per kind of complaint per 10 s (redis connection, queue, worker, events).
    expect(apiErrors.length).toBeLessThanOrEqual(6);
    expect(workerErrors.length).toBeLessThanOrEqual(10);
    expect(apiErrors.length + workerErrors.length).toBeGreaterThan(0); // the outage is still reported
    // Refused requests are the outage's symptom, not new alarms: logged at warn.
    expect(api.logs.slice(apiMark).filter((l) => l.msg === "enqueue failed; request refused").every((l) => l.level === "warn")).toBe(true);
  });
});
