import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../logging/logger.ts";

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
  let lastLogged = 0;
  redis.on("error", (err) => {
    // A Redis outage repeats the same error many times a second; log it at most every 10 s.
    if (Date.now() - lastLogged > 10_000) {
      lastLogged = Date.now();
      logger.error({ err: { message: err.message, code: (err as { code?: string }).code } }, `redis ${profile} connection error`);
    }
  });
  return redis;
}
