import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { QueueName } from "../config/env.ts";
import type { Logger } from "../logging/logger.ts";
import { jobDefinitions, type JobDefinition } from "./registry.ts";
import { jobSchemas, type JobName, type JobPayload } from "./job-schemas.ts";

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
  private readonly definitions: Record<JobName, JobDefinition>;
  private readonly connection: Redis;
  private readonly prefix: string;
  private readonly logger: Logger;

  constructor(options: { connection: Redis; prefix: string; attempts: number; logger: Logger }) {
    this.connection = options.connection;
    this.prefix = options.prefix;
    this.logger = options.logger;
    this.definitions = jobDefinitions(options.attempts);
  }

  definition(name: JobName): JobDefinition {
    return this.definitions[name];
  }

  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on("error", (err) => this.logger.error({ err, queue: name }, "queue error"));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Validates the payload against its schema and adds it with the job's registry options.
   * Fails fast (rather than waiting for a reconnect) when Redis is not connected, so the API can
   * answer 503 at once.
   */
  async enqueue<N extends JobName>(name: N, jobId: string, payload: JobPayload<N>, extra: Pick<JobsOptions, "parent"> = {}): Promise<void> {
    const data = jobSchemas[name].parse(payload);
    const { queue, options } = this.definitions[name];
    if (this.connection.status !== "ready") throw new Error(`redis is not connected (${this.connection.status})`);
    await withTimeout(this.queue(queue).add(name, data, { ...options, ...extra, jobId }), ENQUEUE_TIMEOUT_MS, "enqueue");
  }

  async close(): Promise<void> {
    const queues = [...this.queues.values()];
    this.queues.clear();
    if (this.connection.status !== "ready") return; // nothing to flush; close() would wait for a connection
    await withTimeout(Promise.all(queues.map((q) => q.close())), ENQUEUE_TIMEOUT_MS, "closing queues");
  }
}
