import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Queue } from "bullmq";
import { describe, expect, it } from "vitest";
import { Metrics } from "../../shared/ops/metrics.ts";
import { SCRAPE_READ_TIMEOUT_MS } from "../../shared/ops/scrape-gauges.ts";
import { parseScrape, promqlMetricNames } from "../helpers/prometheus.ts";

describe("Metrics", () => {
  it("keeps one registry per process stack, so several live side by side, each labelled with its service", async () => {
    const api = new Metrics("api");
    const worker = new Metrics("worker");
    api.httpRequest("GET", "/v1/jobs/:id", "200", 0.01);
    worker.jobEnded({ queue: "ingest", job: "ingest_document", outcome: "completed", seconds: 1.5 });
    const [a, w] = [parseScrape(await api.render()), parseScrape(await worker.render())];
    expect(a.value("quarry_http_request_duration_seconds_count", { service: "api", route: "/v1/jobs/:id", status: "200" })).toBe(1);
    expect(w.value("quarry_http_request_duration_seconds_count")).toBeUndefined();
    expect(w.value("quarry_jobs_completed_total", { service: "worker", queue: "ingest", job: "ingest_document" })).toBe(1);
    expect(a.find("process_cpu_user_seconds_total", { service: "api" })).toHaveLength(1);
    expect(api.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    api.close();
    worker.close();
  });

  it("counts a failure that will be retried apart from one that is final, with its code and fault", async () => {
    const metrics = new Metrics("worker", { defaultMetrics: false });
    metrics.jobsServed([{ queue: "embed", job: "embed_chunks" }]);
    metrics.jobEnded({ queue: "embed", job: "embed_chunks", outcome: "retried", seconds: 0.2, code: "EMBEDDING_RATE_LIMITED", fault: "system" });
    metrics.jobEnded({ queue: "embed", job: "embed_chunks", outcome: "failed", seconds: 0.2, code: "NO_TEXT", fault: "input", enqueuedAt: Date.now() - 5_000 });
    const scrape = parseScrape(await metrics.render());
    expect(scrape.value("quarry_jobs_completed_total", { job: "embed_chunks" })).toBe(0);
    expect(scrape.value("quarry_jobs_retried_total", { code: "EMBEDDING_RATE_LIMITED", fault: "system" })).toBe(1);
    expect(scrape.value("quarry_jobs_failed_total", { code: "NO_TEXT", fault: "input" })).toBe(1);
    expect(scrape.value("quarry_job_latency_seconds_sum", { outcome: "failed" })).toBeGreaterThanOrEqual(5);
    expect(scrape.value("quarry_jobs_running", { queue: "embed" })).toBe(0);
  });

  it("reports the oldest job run in flight, and forgets it when it ends", async () => {
    const metrics = new Metrics("worker", { defaultMetrics: false });
    const done = metrics.jobStarted("backup");
    await new Promise((resolve) => setTimeout(resolve, 50));
    let scrape = parseScrape(await metrics.render());
    expect(scrape.value("quarry_jobs_running", { queue: "backup" })).toBe(1);
    expect(scrape.value("quarry_job_oldest_running_seconds", { queue: "backup" })).toBeGreaterThanOrEqual(0.04);
    done();
    scrape = parseScrape(await metrics.render());
    expect(scrape.value("quarry_jobs_running", { queue: "backup" })).toBe(0);
    expect(scrape.value("quarry_job_oldest_running_seconds", { queue: "backup" })).toBe(0);
  });

  it("answers a scrape within its limit when Redis does not answer, leaving the queue gauges out", async () => {
    const metrics = new Metrics("api", { defaultMetrics: false });
    const never = () => new Promise<never>(() => {});
    metrics.watchQueues({ queue: () => ({ getJobCounts: never, getWorkersCount: never }) as unknown as Queue });
    const started = Date.now();
    const scrape = parseScrape(await metrics.render());
    expect(Date.now() - started).toBeLessThan(SCRAPE_READ_TIMEOUT_MS + 500);
    expect(scrape.value("quarry_queue_stats_up")).toBe(0);
    expect(scrape.find("quarry_queue_jobs")).toEqual([]);
    expect(scrape.find("quarry_queue_workers")).toEqual([]);
    expect(scrape.names).toContain("quarry_queue_workers");
  });

  it("reads the queues once per scrape for both queue gauges", async () => {
    const metrics = new Metrics("api", { defaultMetrics: false });
    let reads = 0;
    const queue = {
      getJobCounts: async () => (reads++, { waiting: 3, active: 1 }),
      getWorkersCount: async () => 2,
    } as unknown as Queue;
    metrics.watchQueues({ queue: () => queue }, ["ingest"]);
    const scrape = parseScrape(await metrics.render());
    expect(reads).toBe(1);
    expect(scrape.value("quarry_queue_jobs", { queue: "ingest", state: "waiting" })).toBe(3);
    expect(scrape.value("quarry_queue_jobs", { queue: "ingest", state: "delayed" })).toBe(0);
    expect(scrape.value("quarry_queue_workers", { queue: "ingest" })).toBe(2);
    expect(scrape.value("quarry_queue_stats_up")).toBe(1);
  });

  it("counts the pages OCR read by their confidence, beside the parse time", async () => {
    const metrics = new Metrics("worker", { defaultMetrics: false });
    metrics.parsed({ mimeType: "application/pdf", seconds: 9, outcome: "ok", pages: 3, ocrPages: [{ page: 2, confidence: 93 }, { page: 3, confidence: 41 }] });
    metrics.parsed({ mimeType: "application/pdf", seconds: 0.2, outcome: "ok", pages: 14 });
    const scrape = parseScrape(await metrics.render());
    expect(scrape.value("quarry_ocr_page_confidence_count", { mime_type: "application/pdf" })).toBe(2);
    expect(scrape.value("quarry_ocr_page_confidence_bucket", { mime_type: "application/pdf", le: "60" })).toBe(1);
    expect(scrape.value("quarry_parse_duration_seconds_count", { mime_type: "application/pdf", outcome: "ok" })).toBe(2);
    metrics.close();
  });

  it("has no backup age until a backup has succeeded, never a misleading 0", async () => {
    const metrics = new Metrics("scheduler", { defaultMetrics: false });
    let health = { lastSuccessAt: null as Date | null, failuresSinceSuccess: 2 };
    metrics.watchBackups({ health: async () => health });
    let scrape = parseScrape(await metrics.render());
    expect(scrape.find("quarry_backup_age_seconds")).toEqual([]);
    expect(scrape.value("quarry_backup_failures_since_last_success")).toBe(2);
    health = { lastSuccessAt: new Date(Date.now() - 3_600_000), failuresSinceSuccess: 0 };
    scrape = parseScrape(await metrics.render());
    expect(scrape.value("quarry_backup_age_seconds")).toBeGreaterThanOrEqual(3600);
    expect(scrape.value("quarry_backup_age_seconds")).toBeLessThan(3610);
    expect(scrape.value("quarry_backup_failures_since_last_success")).toBe(0);
  });
});

describe("promqlMetricNames", () => {
  it("finds the selected metrics, not functions, labels, durations, numbers or keywords", () => {
    expect(promqlMetricNames('sum by (queue) (rate(a_total{x="y", z=~"p|q"}[5m])) / max(b) > 0.05 and on () count(c == 1) > 26 * 3600').sort()).toEqual(["a_total", "b", "c"]);
    expect(promqlMetricNames('histogram_quantile(0.99, sum by (le) (rate(h_bucket{route!~"/v1/chat|/x"}[5m]))) > 2.5e0')).toEqual(["h_bucket"]);
    expect(promqlMetricNames("absent(age) and on () count(up == 1) > 0").sort()).toEqual(["age", "up"]);
  });
});

describe("backup failures", () => {
  it("are counted once per failed backup, however often the outbox reports it again", async () => {
    const { backupFailed } = await import("../../shared/backup/backup-alerts.ts");
    const metrics = new Metrics("worker", { defaultMetrics: false });
    const deps = {
      config: {},
      logger: { error: () => {}, info: () => {} },
      backups: { health: async () => ({ lastSuccessAt: null, failuresSinceSuccess: 1, failuresTotal: 1 }) },
      metrics,
    } as unknown as Parameters<typeof backupFailed>[0];
    const failure = { backupId: "20261124T020000Z-nightly", jobId: "j", trigger: "scheduled", status: "failed", error: { code: "BACKUP_STORAGE_REJECTED", message: "no" } } as const;
    await backupFailed(deps, { ...failure, attempt: 1 });
    await backupFailed(deps, { ...failure, attempt: 2 });
    expect(parseScrape(await metrics.render()).value("quarry_backup_failures_total")).toBe(1);
  });
});

describe("the alert rules (ops/prometheus)", () => {
  const promtool = spawnSync("promtool", ["--version"]).status === 0;
  const rules = fileURLToPath(new URL("../../ops/prometheus/quarry-alerts.yml", import.meta.url));
  const tests = fileURLToPath(new URL("../../ops/prometheus/quarry-alerts.test.yml", import.meta.url));

  // Skipped where Prometheus' promtool is not installed (apt-get install prometheus); the rules'
  // metric names are checked against live processes in test/e2e/metrics.test.ts either way.
  it.skipIf(!promtool)("pass `promtool check rules` and the promtool unit tests beside them", () => {
    for (const args of [["check", "rules", rules], ["test", "rules", tests]]) {
      const run = spawnSync("promtool", args, { encoding: "utf8" });
      expect(run.status, `promtool ${args.join(" ")}\n${run.stdout}${run.stderr}`).toBe(0);
    }
  });
});
