import type { NextFunction, Request, Response } from "express";
import { describeDbError, isDatabaseUnavailable } from "../../shared/db/pg-errors.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import type { Logger } from "../../shared/logging/logger.ts";

type ErrorBody = { code: string; message: string; details?: unknown; retry_after?: number };

/** The OpenAI-compatible routes answer errors in OpenAI's shape, which its SDK reads. */
export const OPENAI_ROUTES = /^\/v1\/(files|vector_stores)(\/|\?|$)/i;

/**
 * `{error: {message, type, param, code}}`: `type` is OpenAI's class of error, `code` Quarry's code
 * in lower case (`invalid_api_key` for a bad key, as OpenAI says it), `param` the first field at fault.
 */
export function openAiError(status: number, body: ErrorBody) {
  const type = status >= 500 ? "server_error" : status === 429 ? "rate_limit_error" : "invalid_request_error";
  const firstField = Array.isArray(body.details) ? (body.details[0] as { field?: unknown } | undefined)?.field : undefined;
  return {
    message: body.message,
    type,
    param: typeof firstField === "string" ? firstField : null,
    code: status === 401 ? "invalid_api_key" : body.code.toLowerCase(),
  };
}

function sendError(res: Response, status: number, body: ErrorBody) {
  if (body.retry_after !== undefined) res.set("Retry-After", String(body.retry_after));
  const req = res.req as Request | undefined;
  const openAi = req !== undefined && OPENAI_ROUTES.test(req.originalUrl ?? "");
  res.status(status).json({ error: openAi ? openAiError(status, body) : body });
}

/** Unknown routes answer 404 in the API's error shape. */
export function notFoundHandler(req: Request, res: Response) {
  sendError(res, 404, { code: "NOT_FOUND", message: `no route for ${req.method} ${req.path}` });
}

/**
 * The 4xx errors Express and its body parser raise (http-errors with a `type`), in the API's terms:
 * the request itself is at fault, so they are not logged here (the request log line has them).
 */
function asClientError(err: unknown): { status: number; body: { code: string; message: string } } | undefined {
  const { status, statusCode, type, expose, message } = err as { status?: number; statusCode?: number; type?: string; expose?: boolean; message?: string };
  switch (type) {
    case "entity.too.large":
      return { status: 413, body: { code: "PAYLOAD_TOO_LARGE", message: "the request body is too large" } };
    case "entity.parse.failed":
      return { status: 400, body: { code: "INVALID_JSON", message: "the request body is not valid JSON" } };
    case "charset.unsupported":
      return { status: 415, body: { code: "UNSUPPORTED_MEDIA_TYPE", message: "JSON bodies must be UTF-8" } };
    case "encoding.unsupported":
      return { status: 415, body: { code: "UNSUPPORTED_MEDIA_TYPE", message: "unsupported Content-Encoding: send the body as is, or gzip, deflate or br" } };
    case "request.size.invalid":
      return { status: 400, body: { code: "BAD_REQUEST", message: "the body is not as long as its Content-Length says" } };
    case "request.aborted":
      return { status: 400, body: { code: "BAD_REQUEST", message: "the client closed the connection before the body was complete" } };
  }
  // Only Express's own errors: http-errors (which set `expose`) and the router's URIError for a bad
  // percent-encoding in the path. Another library's error that carries a status (an SDK's 401) is
  // not the client's fault.
  const code = status ?? statusCode;
  const fromExpress = typeof expose === "boolean" || err instanceof URIError;
  if (!fromExpress || code === undefined || code < 400 || code >= 500) return undefined;
  return { status: code, body: { code: "BAD_REQUEST", message: expose !== false && message ? message : "the request is malformed" } };
}

/** The one place errors become responses. Unexpected errors are logged once and answer 500. */
export function errorHandler(logger: Logger) {
  let dbWarnedAt = -Infinity;
  let dbSuppressed = 0;
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const log = (req as { log?: Logger }).log ?? logger;
    if (err instanceof AppError) {
      if (err.httpStatus >= 500) log.warn({ err, code: err.code }, err.message);
      return sendError(res, err.httpStatus, {
        code: err.code,
        message: err.message,
        ...(err.details !== undefined ? { details: err.details } : {}),
        ...(err.retryAfter !== undefined ? { retry_after: err.retryAfter } : {}),
      });
    }
    const clientError = asClientError(err);
    if (clientError) return sendError(res, clientError.status, clientError.body);
    if (isDatabaseUnavailable(err)) {
      // A dependency outage, not a bug: 503 + Retry-After as for Redis, and a warning at most every
      // 10 s (an outage fails every request; operators alert on `error`).
      const now = Date.now();
      if (now - dbWarnedAt >= 10_000) {
        log.warn({ error: describeDbError(err), suppressed: dbSuppressed }, "database unavailable");
        dbWarnedAt = now;
        dbSuppressed = 0;
      } else dbSuppressed++;
      return sendError(res, 503, { code: "DATABASE_UNAVAILABLE", message: "the database could not be reached; try again shortly", retry_after: 5 });
    }
    log.error({ err }, "unhandled error");
    return sendError(res, 500, { code: "INTERNAL", message: "something went wrong; the error was logged" });
  };
}
