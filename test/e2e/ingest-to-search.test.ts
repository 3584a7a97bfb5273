import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { postForEvents } from "../helpers/sse.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";

const NEWS = corpusFile("text/NEWS").toString("utf8");

describe("api and worker as separate processes", () => {
  let env: TestEnv;
  let api: QuarryProcess;
  let worker: QuarryProcess;
  let client: ApiClient;

  beforeAll(async () => {
    env = createTestEnv({ LOG_LEVEL: "info", CHUNK_SIZE: "200", CHUNK_OVERLAP: "40" });
    // Start both at once: they race to create the database and migrate it.
    api = spawnQuarry("api/main.ts", env.env);
    worker = spawnQuarry("workers/main.ts", env.env);
    const listening = await api.waitForLog((l) => l.msg === "api listening");
    await worker.waitForLog((l) => l.msg === "worker ready");
    client = apiClient(String(listening.url), TEST_KEYS.acme);
  });

  afterAll(async () => {
    await api?.stop("SIGKILL");
    await worker?.stop("SIGKILL");
    await env?.cleanup();
  });

  it("takes a document from create-collection to search over HTTP", async () => {
    const collection = await client.post("/v1/collections", { name: "changelog" });
    expect(collection.status).toBe(201);

    const upload = await client.post(`/v1/collections/${collection.body.id}/documents`, {
      text: NEWS,
      title: "mammoth NEWS",
      metadata: { source: "mammoth", kind: "changelog" },
    });
    expect(upload.status).toBe(202);
    const jobUrl = upload.headers.get("location")!;

    const job = await waitFor(async () => {
      const res = await client.get(jobUrl);
      return res.body.status === "succeeded" || res.body.status === "failed" ? res.body : undefined;
    }, 30_000, "the ingest job");
    expect(job).toMatchObject({ status: "succeeded", progress: 100 });
    expect(job.result.chunk_count).toBeGreaterThan(5);

    const document = await client.get(`/v1/documents/${upload.body.document.id}`);
    expect(document.body).toMatchObject({ status: "ready", chunk_count: job.result.chunk_count });

    const search = await client.post(`/v1/collections/${collection.body.id}/search`, {
      query: "Support for footnotes and endnotes",
      top_k: 3,
      filter: { kind: "changelog" },
    });
    expect(search.status).toBe(200);
    expect(search.body.data).toHaveLength(3);
    expect(search.body.data[0].text.toLowerCase()).toContain("footnote");
    expect(search.body.data[0]).toMatchObject({ document_id: upload.body.document.id, title: "mammoth NEWS" });
    const scores = search.body.data.map((h: { score: number }) => h.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);

    // The worker logged the job with its id; the API logged requests without the key.
    // The record ends before the worker writes its line: wait for it rather than assume it arrived.
    await worker.waitForLog((l) => l.msg === "job succeeded" && l.jobId === job.id, 10_000);
    expect(api.output()).not.toContain(TEST_KEYS.acme);
    expect(worker.output()).not.toContain("footnotes and endnotes");
  });

  it("answers a chat over an uploaded PDF with sources that cite the right document and page", { timeout: 60_000 }, async () => {
    const collection = (await client.post("/v1/collections", { name: "papers" })).body;
    const pdf = await uploadFile(String(client.baseUrl), TEST_KEYS.acme, collection.id, { name: "tracemonkey.pdf", content: corpusFile("pdf/tracemonkey.pdf") });
    const other = await client.post(`/v1/collections/${collection.id}/documents`, { text: NEWS, title: "changelog" });
    for (const jobId of [pdf.body.job.id, other.body.job.id]) {
      await waitFor(async () => ((await client.get(`/v1/jobs/${jobId}`)).body.status === "succeeded" ? true : undefined), 30_000, "ingestion");
    }
    const { events } = await postForEvents(`${client.baseUrl}/v1/chat`, TEST_KEYS.acme, {
      collection_ids: [collection.id],
      message: "Which National Science Foundation grants sponsored this effort?",
      stream: true,
    });
    const done = events.at(-1)!;
    expect(done.event).toBe("done");
    expect(done.data.mode).toBe("extractive");
    const top = done.data.sources[0];
    expect(top).toMatchObject({ n: 1, document_id: pdf.body.document.id, collection_id: collection.id });
    expect(top.text).toContain("CNS-0615443");
    // The passage starts on page 12 or 13 of 14 (the acknowledgments are on page 13).
    expect([12, 13]).toContain(top.page);
    expect(done.data.answer).toContain("CNS-0615443");
  });

  it("shuts down gracefully on SIGTERM", async () => {
    expect(await worker.stop("SIGTERM")).toBe(0);
    expect(await api.stop("SIGTERM")).toBe(0);
    expect(worker.logs.some((l) => l.msg === "stopped")).toBe(true);
  });
});
