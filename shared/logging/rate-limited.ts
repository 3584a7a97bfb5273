import type { Logger } from "./logger.ts";

type Level = "error" | "warn" | "info";

/**
 * A logger for errors that repeat many times a second during an outage (Redis or Postgres
 * down): each message is written at most once per `intervalMs`, with how many were suppressed.
 */
export function everyNowAndThen(logger: Logger, intervalMs: number) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (level: Level, fields: Record<string, unknown>, msg: string) => {
    const seen = last.get(msg);
    const now = Date.now();
    if (seen && now - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    const err = fields.err as { message?: string; code?: string } | undefined;
    logger[level]({ ...fields, ...(err ? { err: { message: err.message, code: err.code } } : {}), suppressed: seen?.suppressed ?? 0 }, msg);
    last.set(msg, { at: now, suppressed: 0 });
  };
}
