import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { QueueName } from "../config/env.ts";
import type { Logger } from "../logging/logger.ts";
import { redisOutageLog } from "./connection.ts";
import { jobCatalog, jobDefinition, type JobName, type JobPayload } from "../jobs/index.ts";

const ENQUEUE_TIMEOUT_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Adds validated jobs to their queues. One BullMQ Queue per queue name, created lazily. */
export class JobProducer {
  private readonly queues = new Map<QueueName, Queue>();
  private readonly attempts: number;
  private readonly connection: Redis;
  private readonly prefix: string;
  private readonly logger: Logger;

  constructor(options: { connection: Redis; prefix: string; attempts: number; logger: Logger }) {
    this.connection = options.connection;
    this.prefix = options.prefix;
    this.logger = options.logger;
    this.attempts = options.attempts;
  }

  /** The queue that serves a job type. */
  queueFor(name: JobName): Queue {
    return this.queue(jobCatalog[name].queue);
  }

  /** A job type's BullMQ options, from its definition and this deployment's defaults. */
  options(name: JobName): Omit<JobsOptions, "jobId"> {
    return jobDefinition(name).options({ attempts: this.attempts });
  }

  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on("error", (err) => redisOutageLog(this.logger)("error", { err, queue: name }, "queue error"));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Validates the payload against its schema and adds it with the options of its definition.
   * Fails fast (rather than waiting for a reconnect) when Redis is not connected, so the API can
   * answer 503 at once.
   */
  async enqueue<N extends JobName>(name: N, jobId: string, payload: JobPayload<N>, extra: Pick<JobsOptions, "parent" | "attempts" | "delay" | "priority"> = {}): Promise<void> {
    const data = jobDefinition(name).schema.parse(payload);
    if (this.connection.status !== "ready") throw new Error(`redis is not connected (${this.connection.status})`);
    await withTimeout(this.queueFor(name).add(name, data, { ...this.options(name), ...extra, jobId }), ENQUEUE_TIMEOUT_MS, "enqueue");
  }

  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    if (this.connection.status !== "ready") return; // nothing to flush; close() would wait for a connection
    await withTimeout(Promise.all(queues.map((q) => q.close())), ENQUEUE_TIMEOUT_MS, "closing queues");
  }
}
