/**
 * Delay before attempt `attemptsMade + 1` of a failed job: the provider's Retry-After when the
 * error carries one, else exponential from 2 s (2, 4, 8 … capped at 5 min), each with ±50 % jitter
 * so a burst of failures does not retry in lockstep.
 */
export function backoffDelay(attemptsMade: number, err: Error | undefined, random: () => number = Math.random): number {
  const retryAfter = (err as { retryAfter?: number } | undefined)?.retryAfter;
  const jitter = 0.5 + random();
  if (retryAfter && retryAfter > 0) return Math.round(retryAfter * 1000 * (1 + random() * 0.2));
  const base = Math.min(2_000 * 2 ** Math.max(0, attemptsMade - 1), 300_000);
  return Math.round(base * jitter);
}
