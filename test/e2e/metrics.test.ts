import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile } from "../helpers/http.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { parseScrape, promqlMetricNames, type Scrape } from "../helpers/prometheus.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";

/**
 * An api, a worker and a scheduler as separate processes: each answers /metrics (the api on its
 * port, the others on OPS_PORT) with what it did, and the alert rules name only metrics they export.
 */

const RULES = new URL("../../ops/prometheus/quarry-alerts.yml", import.meta.url);
const ADMIN = "metrics-admin-token";
const QUEUES = ["ingest", "embed", "backup", "workflow"];

let stub: OpenAIStub;
let receiver: Server;
let receiverUrl: string;
let env: TestEnv;
let api: QuarryProcess;
let worker: QuarryProcess;
let scheduler: QuarryProcess;
let apiUrl: string;
let workerOps: string;
let schedulerOps: string;
const callbacks: number[] = [];

/** A callback receiver that answers 503 to the first delivery and 204 to the next. */
async function startReceiver() {
  receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      callbacks.push(Date.now());
      res.writeHead(callbacks.length === 1 ? 503 : 204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
}

const scrape = async (base: string): Promise<Scrape> => {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseScrape(await res.text());
};

beforeAll(async () => {
  stub = await new OpenAIStub().start();
  await startReceiver();
  env = createTestEnv({
    LOG_LEVEL: "info",
    ADMIN_TOKEN: ADMIN,
    // The OpenAI-compatible path, against the stub: tokens and provider errors are reported.
    OPENAI_API_KEY: "sk-test-stub",
    OPENAI_BASE_URL: stub.url,
    OPENAI_MAX_RETRIES: "0",
    EMBEDDING_DIMENSIONS: "64",
    WEBHOOK_SECRET: `whsec_${Buffer.from("metrics-test-secret-0123456789").toString("base64")}`,
    OUTBOUND_ALLOWLIST: "127.0.0.1",
  });
  // Three processes starting on a busy machine: give them longer than the helpers' default 30 s.
  scheduler = spawnQuarry("scheduler/main.ts", env.env);
  api = spawnQuarry("api/main.ts", env.env);
  worker = spawnQuarry("workers/main.ts", env.env);
  apiUrl = String((await api.waitForLog((l) => l.msg === "api listening", 80_000)).url);
  workerOps = String((await worker.waitForLog((l) => l.msg === "ops listening", 80_000)).url);
  schedulerOps = String((await scheduler.waitForLog((l) => l.msg === "ops listening", 80_000)).url);
  await worker.waitForLog((l) => l.msg === "worker ready", 80_000);
  await scheduler.waitForLog((l) => String(l.msg).startsWith("scheduler ready"), 80_000);
}, 120_000);

afterAll(async () => {
  for (const p of [worker, api, scheduler]) await p?.stop("SIGKILL");
  await stub?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  await env?.cleanup();
});

describe("/metrics on every process", () => {
  const scrapes: Scrape[] = [];

  it("reports an ingest from the request to the vectors: route templates, job outcomes, embeddings, parsing, callbacks", { timeout: 90_000 }, async () => {
    const acme = apiClient(apiUrl, TEST_KEYS.acme);
    const collection = await acme.post("/v1/collections", { name: "metrics" });
    expect(collection.status).toBe(201);
    // The first embedding request fails: the batch is retried, and the provider's 500 is counted.
    stub.fail("/v1/embeddings", { status: 500 });
    const upload = await uploadFile(apiUrl, TEST_KEYS.acme, collection.body.id, { name: "sample.pdf", content: corpusFile("pdf/90ms_rksj_h_sample.pdf") }, { callback_url: receiverUrl });
    expect(upload.status).toBe(202);
    const job = await waitFor(async () => {
      const body = (await acme.get(`/v1/jobs/${upload.body.job.id}`)).body;
      return body.status === "succeeded" ? body : undefined;
    }, 60_000, "the ingest");
    expect(job.result.chunk_count).toBeGreaterThan(0);
    expect((await acme.get("/v1/nothing/here")).status).toBe(404);
    await waitFor(async () => callbacks.length >= 2, 30_000, "the callback, delivered on its second try");

    // Whichever process relayed the callback counts its attempts (just after the receiver answered).
    const attempts = (all: Scrape[], labels: Record<string, string>) => all.reduce((n, s) => n + (s.value("quarry_callback_deliveries_total", labels) ?? 0), 0);
    const [fromApi, fromWorker, fromScheduler] = await waitFor(async () => {
      const all = await Promise.all([scrape(apiUrl), scrape(workerOps), scrape(schedulerOps)]);
      return attempts(all, { outcome: "delivered" }) === 1 ? all : undefined;
    }, 10_000, "the delivered callback to be counted");
    scrapes.push(fromApi, fromWorker, fromScheduler);

    // The api: requests by route template and status, never by raw URL.
    expect(fromApi.value("quarry_http_request_duration_seconds_count", { service: "api", method: "POST", route: "/v1/collections/:id/documents", status: "202" })).toBe(1);
    expect(fromApi.value("quarry_http_request_duration_seconds_count", { route: "/v1/jobs/:id", status: "200" })).toBeGreaterThan(0);
    expect(fromApi.value("quarry_http_request_duration_seconds_count", { route: "unmatched", status: "404" })).toBe(1);
    const routes = new Set(fromApi.find("quarry_http_request_duration_seconds_count").map((s) => s.labels.route));
    expect([...routes].filter((r) => r?.includes(collection.body.id) || r?.includes(upload.body.job.id))).toEqual([]);

    // The worker: the job's outcomes, the provider's tokens and error, the parse per page.
    expect(fromWorker.value("quarry_jobs_completed_total", { service: "worker", queue: "ingest", job: "ingest_document" })).toBe(1);
    expect(fromWorker.value("quarry_jobs_completed_total", { queue: "embed", job: "embed_chunks" })).toBeGreaterThan(0);
    expect(fromWorker.value("quarry_jobs_retried_total", { queue: "embed", job: "embed_chunks", code: "EMBEDDING_PROVIDER_ERROR", fault: "system" })).toBe(1);
    for (const job of ["ingest_document", "embed_chunks"]) expect(fromWorker.value("quarry_jobs_failed_total", { job })).toBeUndefined();
    expect(fromWorker.value("quarry_job_duration_seconds_count", { queue: "ingest", job: "ingest_document", outcome: "waiting_children" })).toBe(1);
    expect(fromWorker.value("quarry_job_latency_seconds_count", { queue: "ingest", job: "ingest_document", outcome: "completed" })).toBe(1);
    const openai = { provider: "openai", model: "text-embedding-3-small" };
    expect(fromWorker.value("quarry_embedding_tokens_total", openai)).toBeGreaterThan(0);
    expect(fromWorker.value("quarry_embedding_inputs_total", openai)).toBeGreaterThanOrEqual(job.result.chunk_count);
    expect(fromWorker.value("quarry_embedding_batches_total", openai)).toBe(2); // the failed try, and the retry
    expect(fromWorker.value("quarry_embedding_errors_total", { ...openai, status: "500", code: "EMBEDDING_PROVIDER_ERROR" })).toBe(1);
    expect(fromWorker.value("quarry_embedding_request_duration_seconds_count", { ...openai, outcome: "ok" })).toBe(1);
    expect(fromWorker.value("quarry_parse_seconds_per_page_count", { mime_type: "application/pdf" })).toBe(1);
    expect(fromWorker.value("quarry_parse_duration_seconds_count", { mime_type: "application/pdf", outcome: "ok" })).toBe(1);
    expect(fromWorker.value("quarry_jobs_running", { queue: "ingest" })).toBe(0);

    // The callback: 503 once (to be retried), then delivered.
    expect(attempts(scrapes, { outcome: "retrying", status: "5xx" })).toBe(1);
    expect(attempts(scrapes, { outcome: "delivered", status: "2xx" })).toBe(1);

    // Default process metrics, told apart by service.
    expect(fromApi.find("process_resident_memory_bytes", { service: "api" })).toHaveLength(1);
    expect(fromWorker.find("process_resident_memory_bytes", { service: "worker" })).toHaveLength(1);
    expect(fromScheduler.find("nodejs_eventloop_lag_p99_seconds", { service: "scheduler" })).toHaveLength(1);
  });

  it("reports queue depth by state and live consumers per queue from the api and the scheduler, not from workers", async () => {
    const [fromApi, fromScheduler, fromWorker] = await Promise.all([scrape(apiUrl), scrape(schedulerOps), scrape(workerOps)]);
    for (const s of [fromApi, fromScheduler]) {
      expect(s.value("quarry_queue_stats_up")).toBe(1);
      for (const queue of QUEUES) {
        expect(s.find("quarry_queue_jobs", { queue }).map((x) => x.labels.state).sort()).toEqual(["active", "completed", "delayed", "failed", "prioritized", "waiting", "waiting-children"]);
        expect(s.value("quarry_queue_workers", { queue })).toBeGreaterThanOrEqual(1);
      }
    }
    expect(fromApi.value("quarry_queue_jobs", { queue: "ingest", state: "completed" })).toBeGreaterThanOrEqual(1);
    expect(fromWorker.find("quarry_queue_jobs")).toEqual([]);
  });

  it("reports the age of the last successful backup from the scheduler", { timeout: 60_000 }, async () => {
    const admin = apiClient(apiUrl, ADMIN);
    expect((await scrape(schedulerOps)).find("quarry_backup_age_seconds")).toEqual([]);
    const taken = await admin.post("/v1/backups", {});
    expect(taken.status).toBe(202);
    await waitFor(async () => (await admin.get(`/v1/jobs/${taken.body.job.id}`)).body.status === "succeeded", 45_000, "the backup");
    const fromScheduler = await scrape(schedulerOps);
    expect(fromScheduler.value("quarry_backup_age_seconds")).toBeLessThan(60);
    expect(fromScheduler.value("quarry_backup_failures_since_last_success")).toBe(0);
    expect(fromScheduler.value("quarry_backup_stats_up")).toBe(1);
    // One reporter: the api leaves backup health to the scheduler.
    expect((await scrape(apiUrl)).names.has("quarry_backup_age_seconds")).toBe(false);
  });

  it("the alert rules name only metrics that Quarry exports, and each says how bad and what it means", () => {
    expect(scrapes).toHaveLength(3);
    const exported = new Set(["up", ...scrapes.flatMap((s) => [...s.names])]);
    const file = parse(readFileSync(RULES, "utf8")) as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(10);
    const unknown: Record<string, string[]> = {};
    for (const rule of rules) {
      expect(rule, JSON.stringify(rule)).toMatchObject({ alert: expect.stringMatching(/^Quarry\w+$/), expr: expect.any(String), labels: { severity: expect.stringMatching(/^(warning|critical)$/) } });
      expect(rule.annotations, String(rule.alert)).toMatchObject({ summary: expect.any(String), description: expect.any(String) });
      const names = promqlMetricNames(String(rule.expr));
      expect(names.length, `${String(rule.alert)} selects a metric`).toBeGreaterThan(0);
      const missing = names.filter((n) => !exported.has(n));
      if (missing.length > 0) unknown[String(rule.alert)] = missing;
    }
    expect(unknown).toEqual({});
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it("counts no consumer once the worker has stopped, so waiting jobs with nobody to run them are visible", { timeout: 60_000 }, async () => {
    expect(await worker.stop("SIGTERM")).toBe(0);
    const fromApi = await waitFor(async () => {
      const s = await scrape(apiUrl);
      return QUEUES.every((queue) => s.value("quarry_queue_workers", { queue }) === 0) ? s : undefined;
    }, 20_000, "the consumers to go");
    expect(fromApi.value("quarry_queue_stats_up")).toBe(1);
    // A document uploaded now waits (prioritized, with tenant fair queuing), and the gauges say so.
    const acme = apiClient(apiUrl, TEST_KEYS.acme);
    const collection = await acme.post("/v1/collections", { name: "nobody-home" });
    expect((await acme.post(`/v1/collections/${collection.body.id}/documents`, { text: "Waiting for a worker." })).status).toBe(202);
    // Queue gauges are read from Redis at most every 5 s per process (a scrape loop is no Redis load).
    const waitingIn = (s: Scrape) => ["waiting", "prioritized"].reduce((n, state) => n + s.value("quarry_queue_jobs", { queue: "ingest", state })!, 0);
    const fromScheduler = await waitFor(async () => {
      const s = await scrape(schedulerOps);
      return waitingIn(s) === 1 ? s : undefined;
    }, 15_000, "the waiting document to be counted");
    expect(waitingIn(fromScheduler)).toBe(1);
    expect(fromScheduler.value("quarry_queue_workers", { queue: "ingest" })).toBe(0);
  });
});
