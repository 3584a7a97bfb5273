import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors/app-error.ts";
import { backoffDelay } from "../../workers/backoff.ts";

describe("backoffDelay", () => {
  it("grows exponentially from 2 s with ±50 % jitter", () => {
    expect(backoffDelay(1, new Error("x"), () => 0.5)).toBe(2_000);
    expect(backoffDelay(2, new Error("x"), () => 0.5)).toBe(4_000);
    expect(backoffDelay(3, new Error("x"), () => 0.5)).toBe(8_000);
    expect(backoffDelay(1, new Error("x"), () => 0)).toBe(1_000);
    expect(backoffDelay(1, new Error("x"), () => 0.999)).toBeLessThan(3_000);
  });

  it("is capped at five minutes (before jitter)", () => {
    expect(backoffDelay(30, new Error("x"), () => 0.5)).toBe(300_000);
  });

  it("waits at least the provider's Retry-After when the error carries one", () => {
    const limited = new AppError("EMBEDDING_RATE_LIMITED", "slow down", { retryable: true, retryAfter: 20 });
    expect(backoffDelay(1, limited, () => 0)).toBe(20_000);
    expect(backoffDelay(1, limited, () => 1)).toBe(24_000);
  });
});
