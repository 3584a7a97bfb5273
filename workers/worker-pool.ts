import { QueueEvents, Worker } from "bullmq";
import type { QueueName } from "../shared/config/env.ts";
import type { Deps } from "../shared/deps.ts";
import { CancelListener } from "../shared/jobs/cancel-bus.ts";
import { useHousekeeper } from "../shared/jobs/housekeeper.ts";
import { JOB_NAMES, jobCatalog, QUEUES_IN_USE } from "../shared/jobs/index.ts";
import { BACKOFF_TYPE } from "../shared/jobs/job-definition.ts";
import { createRedis, redisOutageLog } from "../shared/queues/connection.ts";
import { backoffDelay } from "./backoff.ts";
import { createJobHandler, settleFailedJob } from "./run-processor.ts";

/** Default concurrency per queue: parsing is CPU-bound, deletes and embedding calls wait on I/O. */
const DEFAULT_CONCURRENCY: Record<QueueName, number> = { ingest: 2, embed: 4, backup: 1, workflow: 4 };

export interface WorkerPool {
  workers: Worker[];
  /** Stops taking jobs and waits for active ones to finish. */
  close(): Promise<void>;
}

/**
 * Starts one BullMQ Worker per queue this process serves (`WORKER_QUEUES`) that some job type in
 * the catalog uses, and listens for cancels of the jobs it runs.
 */
export async function startWorkers(deps: Deps): Promise<WorkerPool> {
  const { config, logger } = deps;
  const queues = config.WORKER_QUEUES.filter((q) => QUEUES_IN_USE.has(q));
  const idle = config.WORKER_QUEUES.filter((q) => !QUEUES_IN_USE.has(q));
  if (idle.length > 0) logger.info({ queues: idle }, "no job type uses these queues yet; no worker started for them");
  const connection = createRedis(config.REDIS_URL, "worker", logger);
  const cancels = await CancelListener.start(createRedis(config.REDIS_URL, "worker", logger), config.QUEUE_PREFIX, logger);
  // A Redis outage makes every Worker and QueueEvents complain many times a second.
  const outage = redisOutageLog(logger);
  const byQueue = new Map<string, Worker>();
  const handler = createJobHandler(deps, (queue) => byQueue.get(queue), cancels);
  deps.metrics.jobsServed(JOB_NAMES.filter((job) => queues.includes(jobCatalog[job].queue)).map((job) => ({ queue: jobCatalog[job].queue, job })));
  const workers = queues.map((queue) => {
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
    worker.on("error", (err) => outage("error", { err, queue }, "worker error"));
    // Each stall is found once, by the worker whose stalled-job check moved it back.
    worker.on("stalled", () => deps.metrics.jobStalled(queue));
    logger.info({ queue, concurrency }, "worker started");
    return worker;
  });
  // Backstop for failures BullMQ decides without running the processor (a job that stalled too
  // often fails with no Worker event): every failure is settled idempotently on its job record.
  const eventConnections = queues.map(() => createRedis(config.REDIS_URL, "worker", logger));
  const events = queues.map((queue, i) => {
    const queueEvents = new QueueEvents(queue, { connection: eventConnections[i]!, prefix: config.QUEUE_PREFIX });
    queueEvents.on("error", (err) => outage("error", { err, queue }, "queue events error"));
    queueEvents.on("failed", ({ jobId }) => {
      void (async () => {
        const job = await deps.producer.queue(queue).getJob(jobId);
        if (job) await settleFailedJob(deps, job);
      })().catch((err: unknown) => logger.warn({ err, jobId }, "could not record a failed job; the healer settles it"));
    });
    return queueEvents;
  });
  await Promise.all([...workers.map((w) => w.waitUntilReady()), ...events.map((e) => e.waitUntilReady())]);
  const releaseHousekeeper = useHousekeeper(deps);
  return {
    workers,
    async close() {
      await releaseHousekeeper();
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(events.map((e) => e.close()));
      await cancels.close();
      connection.disconnect();
      for (const c of eventConnections) c.disconnect();
    },
  };
}
