import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { QUEUE_NAMES, type QueueName } from "../config/env.ts";
import type { EmbeddingSpec } from "../db/collections.repository.ts";
import type { EmbeddingCall, EmbeddingObserver } from "../embeddings/embedding-provider.ts";
import type { ParseObservation } from "../parsing/sandbox.ts";
import { watchBackups, watchQueues, type BackupHealthSource, type QueueSource } from "./scrape-gauges.ts";

/** How a durable or internal job's run ended, as the job metrics name it. */
export type JobOutcome = "completed" | "failed" | "retried" | "cancelled" | "stopped" | "waiting_children";

/** One run of a job's processor that ended: what it was, how it ended, and how long it ran. */
export interface JobRunEnd {
  queue: string;
  job: string;
  outcome: JobOutcome;
  seconds: number;
  /** Failures: the error code, and whether it is the input's fault (a user's broken file) or Quarry's. */
  code?: string;
  fault?: "input" | "system";
  /** When the job was first added (BullMQ's `job.timestamp`): the end-to-end latency of a final end. */
  enqueuedAt?: number;
}

const HTTP_METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const JOB_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** Distinct embedding model labels a process keeps (a client may name any model). */
const MAX_MODEL_LABELS = 20;

/**
 * The Prometheus metrics of one process: its own registry (never prom-client's global one, so
 * tests can build several stacks in one process), every metric Quarry exports, and the methods
 * the code records through. Every series carries `service` (api, worker, scheduler, all), default
 * process metrics included. Names and meanings: docs/operations.md, "Metrics and alerts".
 */
export class Metrics {
  readonly registry = new Registry();
  readonly service: string;

  private readonly httpDuration: Histogram<"method" | "route" | "status">;
  private readonly jobsCompleted: Counter<"queue" | "job">;
  private readonly jobsFailed: Counter<"queue" | "job" | "code" | "fault">;
  private readonly jobsRetried: Counter<"queue" | "job" | "code" | "fault">;
  private readonly jobsCancelled: Counter<"queue" | "job">;
  private readonly jobsStalled: Counter<"queue">;
  private readonly jobDuration: Histogram<"queue" | "job" | "outcome">;
  private readonly jobLatency: Histogram<"queue" | "job" | "outcome">;
  private readonly embeddingBatches: Counter<"provider" | "model">;
  private readonly embeddingInputs: Counter<"provider" | "model">;
  private readonly embeddingTokens: Counter<"provider" | "model">;
  private readonly embeddingDuration: Histogram<"provider" | "model" | "outcome">;
  private readonly embeddingErrors: Counter<"provider" | "model" | "status" | "code">;
  private readonly parseDuration: Histogram<"mime_type" | "outcome">;
  private readonly parsePerPage: Histogram<"mime_type">;
  private readonly ocrPageConfidence: Histogram<"mime_type">;
  private readonly backupFailures: Counter;
  private readonly callbackDeliveries: Counter<"outcome" | "status">;
  private readonly rerankDuration: Histogram<"outcome">;
  /** Runs in flight in this process, per queue: their start times. */
  private readonly running = new Map<string, Map<symbol, number>>();

  constructor(service: string, options: { defaultMetrics?: boolean } = {}) {
    this.service = service;
    const registers = [this.registry];
    this.registry.setDefaultLabels({ service });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });

    this.httpDuration = new Histogram({
      name: "quarry_http_request_duration_seconds",
      help: "HTTP requests answered by the api, by method, route template (unmatched: no route answered) and status",
      labelNames: ["method", "route", "status"],
      buckets: SECONDS,
      registers,
    });

    const jobLabels = ["queue", "job"] as const;
    const failureLabels = ["queue", "job", "code", "fault"] as const;
    this.jobsCompleted = new Counter({ name: "quarry_jobs_completed_total", help: "Job runs that succeeded", labelNames: jobLabels, registers });
    this.jobsFailed = new Counter({ name: "quarry_jobs_failed_total", help: "Jobs that failed for good (no attempt left, or not retryable), by error code and fault (input: the user's file; system: Quarry or a dependency)", labelNames: failureLabels, registers });
    this.jobsRetried = new Counter({ name: "quarry_jobs_retried_total", help: "Job attempts that failed and will be retried with backoff", labelNames: failureLabels, registers });
    this.jobsCancelled = new Counter({ name: "quarry_jobs_cancelled_total", help: "Job runs stopped by a cancel", labelNames: jobLabels, registers });
    this.jobsStalled = new Counter({ name: "quarry_jobs_stalled_total", help: "Jobs whose worker stopped renewing their lock (killed, or its event loop blocked), found by this process and handed back to the queue", labelNames: ["queue"], registers });
    this.jobDuration = new Histogram({ name: "quarry_job_duration_seconds", help: "Time of each run of a job's processor, by how the run ended", labelNames: ["queue", "job", "outcome"], buckets: JOB_SECONDS, registers });
    this.jobLatency = new Histogram({ name: "quarry_job_latency_seconds", help: "From a job's enqueueing to its end (completed or failed for good): queueing, retries and fan-out included", labelNames: ["queue", "job", "outcome"], buckets: JOB_SECONDS, registers });
    const running = this.running;
    new Gauge({
      name: "quarry_jobs_running",
      help: "Job runs in flight in this process",
      labelNames: ["queue"],
      registers,
      collect(this: Gauge<"queue">) {
        for (const [queue, runs] of running) this.set({ queue }, runs.size);
      },
    });
    new Gauge({
      name: "quarry_job_oldest_running_seconds",
      help: "Age of the longest-running job run in flight in this process (0 when none)",
      labelNames: ["queue"],
      registers,
      collect(this: Gauge<"queue">) {
        const now = performance.now();
        for (const [queue, runs] of running) this.set({ queue }, runs.size === 0 ? 0 : (now - Math.min(...runs.values())) / 1000);
      },
    });

    const embeddingLabels = ["provider", "model"] as const;
    this.embeddingBatches = new Counter({ name: "quarry_embedding_batches_total", help: "Batches of texts embedded (an embed_chunks batch, a search query, a /v1/embeddings request)", labelNames: embeddingLabels, registers });
    this.embeddingInputs = new Counter({ name: "quarry_embedding_inputs_total", help: "Texts sent to the embedding provider", labelNames: embeddingLabels, registers });
    this.embeddingTokens = new Counter({ name: "quarry_embedding_tokens_total", help: "Tokens the embedding provider reported for successful requests (the OpenAI-compatible provider only)", labelNames: embeddingLabels, registers });
    this.embeddingDuration = new Histogram({ name: "quarry_embedding_request_duration_seconds", help: "Latency of each request to the embedding provider (after the SDK's own retries), by outcome", labelNames: ["provider", "model", "outcome"], buckets: SECONDS, registers });
    this.embeddingErrors = new Counter({ name: "quarry_embedding_errors_total", help: "Failed embedding requests, by HTTP status (or timeout, network) and Quarry's error code", labelNames: ["provider", "model", "status", "code"], registers });

    this.parseDuration = new Histogram({ name: "quarry_parse_duration_seconds", help: "Parsing and chunking one document in a parse thread, by detected type and outcome (ok, or the error code)", labelNames: ["mime_type", "outcome"], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
    this.ocrPageConfidence = new Histogram({ name: "quarry_ocr_page_confidence", help: "Pages read by OCR, by the mean word confidence (0–100) tesseract gave each; _count is the pages OCRed", labelNames: ["mime_type"], buckets: [20, 40, 60, 80, 90, 95], registers });
    this.parsePerPage = new Histogram({ name: "quarry_parse_seconds_per_page", help: "Parse time of a document divided by its pages (a document without pages counts as one)", labelNames: ["mime_type"], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });

    this.backupFailures = new Counter({ name: "quarry_backup_failures_total", help: "Backups that failed, counted by the process that first reported the failure", registers });
    this.rerankDuration = new Histogram({ name: "quarry_rerank_duration_seconds", help: "Calls to the reranker, by outcome (ok; failed: error or timeout, the hits were answered unreranked)", labelNames: ["outcome"], buckets: SECONDS, registers });
    // Both series from the start, so that increase() sees the first failure.
    for (const outcome of ["ok", "failed"]) this.rerankDuration.zero({ outcome });
    this.callbackDeliveries = new Counter({ name: "quarry_callback_deliveries_total", help: "Callback delivery attempts, by outcome (delivered, retrying, failed: given up, stopped: 410) and the class of the receiver's HTTP status (2xx … 5xx; none: no answer)", labelNames: ["outcome", "status"], registers });
    // Series that exist from the start, at 0: a counter's first event is otherwise invisible to increase().
    for (const outcome of ["delivered", "retrying", "failed", "stopped"]) for (const status of ["2xx", "3xx", "4xx", "5xx", "none"]) this.callbackDeliveries.inc({ outcome, status }, 0);
    for (const queue of QUEUE_NAMES) this.jobsStalled.inc({ queue }, 0);
  }

  /** `text/plain; version=0.0.4; charset=utf-8`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; scrape-time gauges read Redis and Postgres here, each within a short limit. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  httpRequest(method: string, route: string, status: string, seconds: number): void {
    this.httpDuration.observe({ method: HTTP_METHODS.has(method) ? method : "OTHER", route, status }, seconds);
  }

  /** Zero series for the job types a worker serves, so ratios over them exist before the first end. */
  jobsServed(jobs: Array<{ queue: string; job: string }>): void {
    for (const labels of jobs) {
      this.jobsCompleted.inc(labels, 0);
      if (!this.running.has(labels.queue)) this.running.set(labels.queue, new Map());
    }
  }

  /** Counts a run in flight until the returned function is called. */
  jobStarted(queue: string): () => void {
    const token = Symbol(queue);
    let runs = this.running.get(queue);
    if (!runs) this.running.set(queue, (runs = new Map()));
    runs.set(token, performance.now());
    return () => void runs.delete(token);
  }

  jobEnded(end: JobRunEnd): void {
    const labels = { queue: end.queue, job: end.job };
    this.jobDuration.observe({ ...labels, outcome: end.outcome }, end.seconds);
    if (end.outcome === "completed") this.jobsCompleted.inc(labels);
    else if (end.outcome === "cancelled") this.jobsCancelled.inc(labels);
    else if (end.outcome === "failed" || end.outcome === "retried") {
      const failure = { ...labels, code: end.code ?? "INTERNAL", fault: end.fault ?? "system" };
      (end.outcome === "failed" ? this.jobsFailed : this.jobsRetried).inc(failure);
    }
    if ((end.outcome === "completed" || end.outcome === "failed") && end.enqueuedAt) {
      this.jobLatency.observe({ ...labels, outcome: end.outcome }, Math.max(0, Date.now() - end.enqueuedAt) / 1000);
    }
  }

  jobStalled(queue: string): void {
    this.jobsStalled.inc({ queue });
  }

  /** Model names a client chose (`POST /v1/embeddings {model}`) are labels: at most this many, the rest are "other". */
  private readonly models = new Set<string>();
  private modelLabel(spec: EmbeddingSpec): { provider: string; model: string } {
    if (!this.models.has(spec.model) && this.models.size < MAX_MODEL_LABELS) this.models.add(spec.model);
    return { provider: spec.provider, model: this.models.has(spec.model) ? spec.model : "other" };
  }

  /** What the embedding providers report: batches, requests, tokens and errors. */
  readonly embeddings: EmbeddingObserver = {
    batch: (spec: EmbeddingSpec, inputs: number) => {
      const labels = this.modelLabel(spec);
      this.embeddingBatches.inc(labels);
      this.embeddingInputs.inc(labels, inputs);
    },
    request: (spec: EmbeddingSpec, call: EmbeddingCall) => {
      const labels = this.modelLabel(spec);
      this.embeddingDuration.observe({ ...labels, outcome: call.error ? "error" : "ok" }, call.seconds);
      if (call.error) this.embeddingErrors.inc({ ...labels, status: call.error.status, code: call.error.code });
      else if (call.tokens) this.embeddingTokens.inc(labels, call.tokens);
    },
  };

  /** A parse thread's answer, timed where it comes back (the thread has no registry). */
  parsed(p: ParseObservation): void {
    this.parseDuration.observe({ mime_type: p.mimeType, outcome: p.outcome }, p.seconds);
    if (p.outcome === "ok") this.parsePerPage.observe({ mime_type: p.mimeType }, p.seconds / Math.max(1, p.pages ?? 1));
    for (const page of p.ocrPages ?? []) this.ocrPageConfidence.observe({ mime_type: p.mimeType }, page.confidence);
  }

  reranked(outcome: "ok" | "failed", seconds: number): void {
    this.rerankDuration.observe({ outcome }, seconds);
  }

  backupFailed(): void {
    this.backupFailures.inc();
  }

  /** By the receiver's status class (`2xx` … `5xx`, `none`): few series, all created at 0 so the first failure shows in `increase()`. */
  callbackAttempt(outcome: string, statusCode: number | null): void {
    this.callbackDeliveries.inc({ outcome, status: statusCode === null ? "none" : `${Math.floor(statusCode / 100)}xx` });
  }

  /** Queue depth by state and live consumers per queue, read from Redis at scrape time. */
  watchQueues(source: QueueSource, queues?: readonly QueueName[]): void {
    watchQueues(this.registry, source, queues);
  }

  /** The age of the last successful backup and the failures since, read from Postgres at scrape time. */
  watchBackups(source: BackupHealthSource): void {
    watchBackups(this.registry, source);
  }

  close(): void {
    this.registry.clear();
  }
}
