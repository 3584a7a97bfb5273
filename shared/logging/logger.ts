import { pino, type Logger } from "pino";
import type { Config } from "../config/env.ts";

export type { Logger };

/** Paths never written to a log: credentials and document text. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers[\"x-api-key\"]",
  "headers.authorization",
  "*.apiKey",
  "*.api_key",
  "*.password",
  "*.token",
  "*.text",
  "*.content",
  "*.input",
  "config.API_KEYS",
  "config.ADMIN_TOKEN",
  "config.OPENAI_API_KEY",
  "config.QDRANT_API_KEY",
  "config.RERANK_API_KEY",
  "config.DATABASE_URL",
];

/** The root logger of a process; child loggers carry requestId or {queue, jobId, attempt}. */
export function createLogger(config: Pick<Config, "LOG_LEVEL">, name: string): Logger {
  return pino({
    name,
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { pid: process.pid, service: "quarry" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** Strips the password from a connection URL so it can be logged. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "[unparseable url]";
  }
}
