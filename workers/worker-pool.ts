import { Worker } from "bullmq";
import type { QueueName } from "../shared/config/env.ts";
import type { Deps } from "../shared/deps.ts";
import { createRedis } from "../shared/queues/connection.ts";
import { BACKOFF_TYPE } from "../shared/queues/registry.ts";
import { backoffDelay } from "./backoff.ts";
import { createJobHandler, settleFailedJob } from "./run-processor.ts";

/** Default concurrency per queue: parsing is CPU-bound, deletes and embedding calls wait on I/O. */
const DEFAULT_CONCURRENCY: Record<QueueName, number> = { ingest: 2, embed: 4, backup: 1, workflow: 4 };

export interface WorkerPool {
  workers: Worker[];
  /** Stops taking jobs and waits for active ones to finish. */
  close(): Promise<void>;
}

/** Starts one BullMQ Worker per queue this process serves (`WORKER_QUEUES`). */
export async function startWorkers(deps: Deps): Promise<WorkerPool> {
  const { config, logger } = deps;
  const connection = createRedis(config.REDIS_URL, "worker", logger);
  const byQueue = new Map<string, Worker>();
  const handler = createJobHandler(deps, (queue) => byQueue.get(queue));
  const workers = config.WORKER_QUEUES.map((queue) => {
    const concurrency = config.WORKER_CONCURRENCY[queue] ?? DEFAULT_CONCURRENCY[queue];
    const worker = new Worker(queue, handler, {
      connection,
      prefix: config.QUEUE_PREFIX,
      concurrency,
      // A worker that dies mid-job loses its lock; another picks the job up after about this long.
      lockDuration: config.WORKER_LOCK_DURATION_MS,
      stalledInterval: Math.min(30_000, Math.ceil(config.WORKER_LOCK_DURATION_MS / 2)),
      maxStalledCount: 2,
      settings: {
        backoffStrategy: (attemptsMade, type, err) => (type === BACKOFF_TYPE ? backoffDelay(attemptsMade, err) : 2_000),
      },
      // Requests per minute to the embedding provider, across every worker (BullMQ's limiter lives in Redis).
      ...(queue === "embed" && config.EMBED_RATE_LIMIT_RPM > 0 ? { limiter: { max: config.EMBED_RATE_LIMIT_RPM, duration: 60_000 } } : {}),
    });
    byQueue.set(queue, worker);
    worker.on("error", (err) => logger.error({ err, queue }, "worker error"));
    // Backstop for failures BullMQ decides without the processor (a job stalled too often).
    worker.on("failed", (job, err) => {
      if (job) settleFailedJob(deps, job, err).catch((e: unknown) => logger.error({ err: e, jobId: job.id }, "could not record a failed job"));
    });
    logger.info({ queue, concurrency }, "worker started");
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return {
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      connection.disconnect();
    },
  };
}
