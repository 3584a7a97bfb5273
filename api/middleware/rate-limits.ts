import { createHash } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts, type RateLimiterAbstract } from "rate-limiter-flexible";
import { OPS_TENANT } from "../../shared/config/env.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import { redisOutageLog } from "../../shared/queues/connection.ts";

/** The separate budgets a request can spend from; each request spends from exactly one. */
export type Budget = "uploads" | "queries" | "requests";

/** Budgets are per minute: a fixed window that starts with a key's first request in it. */
const WINDOW_S = 60;
/** A Redis that does not answer in this time is treated as down: the request goes through. */
const REDIS_TIMEOUT_MS = 500;

/** Which budget a request under `/v1` spends (`path` relative to the mount). */
export function budgetOf(method: string, path: string): Budget {
  if (method !== "POST") return "requests";
  if (/^\/(?:collections\/[^/]+\/documents|files|vector_stores\/[^/]+\/(?:files|file_batches))\/?$/i.test(path)) return "uploads";
  if (/^\/(?:collections\/[^/]+\/search|vector_stores\/[^/]+\/search|chat|embeddings)\/?$/i.test(path)) return "queries";
  return "requests";
}

/**
 * Per-API-key rate limits (`RATE_LIMIT_UPLOADS`, `RATE_LIMIT_QUERIES`, `RATE_LIMIT_REQUESTS`:
 * requests per minute, 0 = none), counted in Redis so every api process shares them. Mounted on
 * `/v1` after the API key check: a budget belongs to one key of one tenant (its SHA-256, never the
 * key itself, names it in Redis). The admin token's requests are the operator's and are not limited.
 *
 * Every answer of a limited route carries `RateLimit-Policy` and `RateLimit`
 * (draft-ietf-httpapi-ratelimit-headers); past the budget the answer is 429 `RATE_LIMITED` with
 * `Retry-After`. When Redis cannot be reached the limits are not enforced (a warning at most every
 * 10 s): reads go on working, and new work is refused with 503 by the queue anyway.
 */
export function rateLimits(deps: Pick<Deps, "config" | "redis" | "logger">) {
  const { config } = deps;
  const points: Record<Budget, number> = { uploads: config.RATE_LIMIT_UPLOADS, queries: config.RATE_LIMIT_QUERIES, requests: config.RATE_LIMIT_REQUESTS };
  const limiters = new Map<Budget, RateLimiterAbstract>();
  for (const budget of Object.keys(points) as Budget[]) {
    if (points[budget] <= 0) continue;
    const store = new RateLimiterRedis({
      // ioredis: commands and the Lua script through the api's producer connection, which fails fast.
      storeClient: deps.redis,
      rejectIfRedisNotReady: true,
      // Under the queue prefix: a Redis Cluster hash tag, and separate counters per deployment (and test).
      keyPrefix: `${config.QUEUE_PREFIX}:ratelimit:${budget}`,
      points: points[budget],
      duration: WINDOW_S,
    });
    limiters.set(budget, new RLWrapperTimeouts({ limiter: store, timeoutMs: REDIS_TIMEOUT_MS }));
  }
  const outage = redisOutageLog(deps.logger);

  return async (req: Request, res: Response, next: NextFunction) => {
    const budget = budgetOf(req.method, req.path);
    const limiter = limiters.get(budget);
    if (!limiter || req.tenantId === OPS_TENANT) return next();
    const key = /^Bearer\s+(\S+)$/i.exec(req.get("authorization") ?? "")?.[1] ?? "";
    const id = `${req.tenantId}:${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
    const limit = points[budget];
    let result: RateLimiterRes;
    let refused = false;
    try {
      result = await limiter.consume(id);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) {
        outage("warn", { err, budget }, "rate limits not enforced: redis unavailable");
        return next();
      }
      result = err;
      refused = true;
    }
    const reset = Math.max(1, Math.ceil(result.msBeforeNext / 1000));
    res.set("RateLimit-Policy", `"${budget}";q=${limit};w=${WINDOW_S}`);
    res.set("RateLimit", `"${budget}";r=${result.remainingPoints};t=${reset}`);
    if (refused) {
      throw new AppError("RATE_LIMITED", `this API key has used its ${limit} ${budget} a minute; try again in ${reset} s`, {
        httpStatus: 429,
        retryAfter: reset,
        details: { budget, limit, window_s: WINDOW_S },
      });
    }
    next();
  };
}
