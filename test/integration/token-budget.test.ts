import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { reserveTokens } from "../../shared/queues/token-budget.ts";
import { createTestEnv, REDIS_URL } from "../helpers/test-env.ts";

const env = createTestEnv();
const redis = new Redis(REDIS_URL);
afterAll(async () => {
  redis.disconnect();
  await env.cleanup();
});

describe("reserveTokens (tokens per minute, shared through Redis)", () => {
  it("grants reservations until the minute's budget is spent, then says how long to wait", async () => {
    expect(await reserveTokens(redis, env.prefix, 400, 1_000)).toBe(0);
    expect(await reserveTokens(redis, env.prefix, 500, 1_000)).toBe(0);
    const wait = await reserveTokens(redis, env.prefix, 200, 1_000);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
    expect(Number(await redis.get(`${env.prefix}:embed-tpm`))).toBe(900);
  });

  it("lets a single request larger than the budget through when the window is empty", async () => {
    const prefix = `${env.prefix}:big`;
    expect(await reserveTokens(redis, prefix, 5_000, 1_000)).toBe(0);
  });

  it("is off when the limit is 0", async () => {
    expect(await reserveTokens(redis, `${env.prefix}:off`, 1e9, 0)).toBe(0);
    expect(await redis.exists(`${env.prefix}:off:embed-tpm`)).toBe(0);
  });
});
