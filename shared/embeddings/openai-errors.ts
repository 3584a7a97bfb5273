import OpenAI from "openai";
import { AppError } from "../errors/app-error.ts";

/** Seconds from a Retry-After (or retry-after-ms) header, if the provider sent one. */
function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get("retry-after-ms"));
  if (Number.isFinite(ms) && ms > 0) return Math.ceil(ms / 1000);
  const value = headers?.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(1, Math.ceil((date - Date.now()) / 1000));
}

/**
 * Maps an `openai` SDK error (after the SDK's own retries, which honour Retry-After) to an
 * AppError: 429 and 5xx and network faults are retryable (with `retryAfter` when known), other 4xx
 * are permanent — retrying a rejected request cannot help.
 */
export function providerError(err: unknown, what: "embedding" | "chat"): AppError {
  const prefix = what.toUpperCase();
  if (err instanceof AppError) return err;
  if (err instanceof OpenAI.APIConnectionTimeoutError) {
    return new AppError(`${prefix}_PROVIDER_TIMEOUT`, `the ${what} provider did not answer in time`, { httpStatus: 504, retryable: true, retryAfter: 5, cause: err });
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return new AppError(`${prefix}_PROVIDER_UNREACHABLE`, `the ${what} provider could not be reached`, { httpStatus: 503, retryable: true, retryAfter: 5, cause: err });
  }
  if (err instanceof OpenAI.RateLimitError) {
    return new AppError(`${prefix}_RATE_LIMITED`, `the ${what} provider is rate-limiting requests`, {
      httpStatus: 429,
      retryable: true,
      retryAfter: retryAfterSeconds(err.headers) ?? 10,
      cause: err,
    });
  }
  if (err instanceof OpenAI.AuthenticationError || err instanceof OpenAI.PermissionDeniedError) {
    return new AppError(`${prefix}_AUTH_FAILED`, `the ${what} provider refused the configured credentials (${err.status})`, { httpStatus: 502, cause: err });
  }
  // 5xx, or an error event in the middle of a stream (no HTTP status): the provider failed.
  if (err instanceof OpenAI.APIError && (err.status === undefined || err.status >= 500)) {
    return new AppError(`${prefix}_PROVIDER_ERROR`, `the ${what} provider failed (${err.status})`, {
      httpStatus: 502,
      retryable: true,
      retryAfter: retryAfterSeconds(err.headers),
      cause: err,
    });
  }
  if (err instanceof OpenAI.APIError) {
    return new AppError(`${prefix}_REQUEST_REJECTED`, `the ${what} provider rejected the request (${err.status}): ${err.message}`, { httpStatus: 502, cause: err });
  }
  return new AppError(`${prefix}_PROVIDER_ERROR`, `the ${what} provider call failed: ${(err as Error).message}`, { httpStatus: 502, retryable: true, cause: err });
}

/** The status label of a failed provider call: its HTTP status, or `timeout`, `network`, `stream`, `error`. */
export function providerStatus(err: unknown): string {
  if (err instanceof OpenAI.APIConnectionTimeoutError) return "timeout";
  if (err instanceof OpenAI.APIConnectionError) return "network";
  if (err instanceof OpenAI.APIError) return err.status === undefined ? "stream" : String(err.status);
  return "error";
}
