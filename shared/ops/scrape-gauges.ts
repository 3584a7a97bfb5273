import type { JobState, Queue } from "bullmq";
import { Gauge, type Registry } from "prom-client";
import { QUEUE_NAMES, type QueueName } from "../config/env.ts";

/** How long a scrape waits for Redis or Postgres; past it the gauges are left out, never stale. */
export const SCRAPE_READ_TIMEOUT_MS = 1_000;

/** The BullMQ states a queue's depth is reported in. */
export const QUEUE_STATES = ["waiting", "prioritized", "active", "delayed", "waiting-children", "failed", "completed"] as const satisfies readonly JobState[];

/** Where the queues are read (the process's `JobProducer`). */
export interface QueueSource {
  queue(name: QueueName): Queue;
}

/** Where backup health is read (the backups repository). */
export interface BackupHealthSource {
  health(): Promise<{ lastSuccessAt: Date | null; failuresSinceSuccess: number }>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The queues' read is reused for this long: `/metrics` is unauthenticated, and a scrape loop must not become Redis load. */
const SCRAPE_READ_REUSE_MS = 5_000;

/**
 * One read per scrape, shared by the gauges that need it (a registry collects its metrics
 * concurrently), reused for `reuseMs`, resolving to `undefined` when the source fails or
 * is slower than the limit (a failure is not reused).
 */
function perScrape<T>(read: () => Promise<T>, reuseMs = 0): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  let last: { at: number; value: T } | undefined;
  return () => {
    if (last && Date.now() - last.at < reuseMs) return Promise.resolve(last.value);
    return (pending ??= withTimeout(read(), SCRAPE_READ_TIMEOUT_MS)
      .then((value) => {
        last = { at: Date.now(), value };
        return value as T | undefined;
      })
      .catch(() => undefined)
      .finally(() => (pending = undefined)));
  };
}

/**
 * `quarry_queue_jobs{queue,state}` (depth by state) and `quarry_queue_workers{queue}` (live
 * consumers: BullMQ workers connected to Redis for that queue, in any process), read at scrape
 * time, plus `quarry_queue_stats_up` (0 when Redis did not answer within the limit).
 */
export function watchQueues(registry: Registry, source: QueueSource, queues: readonly QueueName[] = QUEUE_NAMES): void {
  const read = perScrape(() =>
    Promise.all(
      queues.map(async (name) => {
        const queue = source.queue(name);
        const [counts, workers] = await Promise.all([queue.getJobCounts(...QUEUE_STATES), queue.getWorkersCount()]);
        return { name, counts, workers };
      }),
    ),
    SCRAPE_READ_REUSE_MS,
  );
  const registers = [registry];
  new Gauge({
    name: "quarry_queue_jobs",
    help: "Jobs in each queue by BullMQ state, read from Redis at scrape time",
    labelNames: ["queue", "state"],
    registers,
    async collect(this: Gauge<"queue" | "state">) {
      const snapshot = await read();
      this.reset();
      for (const { name, counts } of snapshot ?? []) for (const state of QUEUE_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
    },
  });
  new Gauge({
    name: "quarry_queue_workers",
    help: "Live consumers of each queue: BullMQ workers connected to Redis, from every worker process",
    labelNames: ["queue"],
    registers,
    async collect(this: Gauge<"queue">) {
      const snapshot = await read();
      this.reset();
      for (const { name, workers } of snapshot ?? []) this.set({ queue: name }, workers);
    },
  });
  new Gauge({
    name: "quarry_queue_stats_up",
    help: `1 when this scrape read the queues from Redis within ${SCRAPE_READ_TIMEOUT_MS} ms; 0 when not (the queue gauges are then left out)`,
    registers,
    async collect(this: Gauge) {
      this.set((await read()) ? 1 : 0);
    },
  });
}

/**
 * `quarry_backup_age_seconds` (since the last successful backup finished; absent until one has)
 * and `quarry_backup_failures_since_last_success`, read from Postgres at scrape time, plus
 * `quarry_backup_stats_up`. One process reports them (the scheduler), so nothing adds up twice.
 */
export function watchBackups(registry: Registry, source: BackupHealthSource): void {
  const read = perScrape(() => source.health());
  const registers = [registry];
  new Gauge({
    name: "quarry_backup_age_seconds",
    help: "Seconds since the last successful backup finished; absent until one has",
    registers,
    async collect(this: Gauge) {
      const health = await read();
      this.remove({}); // reset() would leave an unlabelled gauge at 0: an age of 0 would hide an alert
      if (health?.lastSuccessAt) this.set((Date.now() - health.lastSuccessAt.getTime()) / 1000);
    },
  });
  new Gauge({
    name: "quarry_backup_failures_since_last_success",
    help: "Backups that failed since the last successful one (0 once a backup succeeds again)",
    registers,
    async collect(this: Gauge) {
      const health = await read();
      this.remove({});
      if (health) this.set(health.failuresSinceSuccess);
    },
  });
  new Gauge({
    name: "quarry_backup_stats_up",
    help: `1 when this scrape read backup health from Postgres within ${SCRAPE_READ_TIMEOUT_MS} ms; 0 when not`,
    registers,
    async collect(this: Gauge) {
      this.set((await read()) ? 1 : 0);
    },
  });
}
