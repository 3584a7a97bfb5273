import type { Redis } from "ioredis";
import type { Logger } from "../logging/logger.ts";

/** Raised through a job's AbortSignal when its cancel was asked for. */
export class JobCancelledError extends Error {
  constructor(message = "cancelled at the client's request") {
    super(message);
    this.name = "JobCancelledError";
  }
}

/** Raised at a checkpoint when the job was ended elsewhere (a batch failed it, the healer settled it). */
export class JobEndedError extends Error {
  constructor() {
    super("the job was ended elsewhere (a batch of it failed, or it was settled)");
    this.name = "JobEndedError";
  }
}

const channel = (prefix: string) => `${prefix}:cancel`;

/** Tells every worker process, wherever it runs, that a job should stop (best effort: the row says so too). */
export async function publishCancel(redis: Redis, prefix: string, jobId: string): Promise<void> {
  await redis.publish(channel(prefix), jobId);
}

/**
 * A worker process's side: the jobs it is running, keyed by the durable job they work for (an
 * ingest and its embedding batches share one key), and a Redis subscription that aborts them.
 */
export class CancelListener {
  private readonly running = new Map<string, Set<AbortController>>();
  private readonly subscriber: Redis;

  private constructor(subscriber: Redis) {
    this.subscriber = subscriber;
  }

  /** Subscribes on its own connection (a subscribed connection can do nothing else). */
  static async start(subscriber: Redis, prefix: string, logger: Logger): Promise<CancelListener> {
    const listener = new CancelListener(subscriber);
    subscriber.on("message", (_channel: string, jobId: string) => {
      if (listener.abort(jobId)) logger.info({ jobId }, "cancel received; stopping the job at its next boundary");
    });
    await subscriber.subscribe(channel(prefix));
    return listener;
  }

  /** Registers work for `ownerId`; call the returned function when it ends. */
  track(ownerId: string, controller: AbortController): () => void {
    let set = this.running.get(ownerId);
    if (!set) this.running.set(ownerId, (set = new Set()));
    set.add(controller);
    return () => {
      set.delete(controller);
      if (set.size === 0) this.running.delete(ownerId);
    };
  }

  /** Aborts everything running for `ownerId` in this process; false when none is. */
  abort(ownerId: string): boolean {
    const set = this.running.get(ownerId);
    if (!set) return false;
    for (const controller of set) controller.abort(new JobCancelledError());
    return true;
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
