import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../logging/logger.ts";
import { everyNowAndThen } from "../logging/rate-limited.ts";

/** One limiter per logger (per process): an outage hits every connection at once. */
const limiters = new WeakMap<Logger, ReturnType<typeof everyNowAndThen>>();
export function redisOutageLog(logger: Logger): ReturnType<typeof everyNowAndThen> {
  let limiter = limiters.get(logger);
  if (!limiter) limiters.set(logger, (limiter = everyNowAndThen(logger, 10_000)));
  return limiter;
}

/**
 * Producers (the API) fail fast so a request can answer 503 instead of hanging; workers wait for
 * Redis forever (`maxRetriesPerRequest: null`, as BullMQ requires for blocking commands).
 */
export function createRedis(url: string, profile: "producer" | "worker", logger: Logger): Redis {
  const options: RedisOptions =
    profile === "producer"
      ? { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000, lazyConnect: false }
      : { maxRetriesPerRequest: null, enableReadyCheck: false };
  const redis = new Redis(url, { ...options, retryStrategy: (n) => Math.min(n * 200, 5_000) });
  // A Redis outage repeats the same error many times a second on every connection: at most one
  // line per 10 s for the whole process (with the count of those suppressed).
  const outage = redisOutageLog(logger);
  redis.on("error", (err) => outage("error", { err }, "redis connection error"));
  return redis;
}
