import type { NextFunction, Request, Response } from "express";
import { AppError } from "../../shared/errors/app-error.ts";
import type { Logger } from "../../shared/logging/logger.ts";

function sendError(res: Response, status: number, body: { code: string; message: string; details?: unknown; retry_after?: number }) {
  if (body.retry_after !== undefined) res.set("Retry-After", String(body.retry_after));
  res.status(status).json({ error: body });
}

/** Unknown routes answer 404 in the API's error shape. */
export function notFoundHandler(req: Request, res: Response) {
  sendError(res, 404, { code: "NOT_FOUND", message: `no route for ${req.method} ${req.path}` });
}

/** The one place errors become responses. Unexpected errors are logged once and answer 500. */
export function errorHandler(logger: Logger) {
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
    const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    const type = (err as { type?: string }).type;
    if (type === "entity.too.large") return sendError(res, 413, { code: "PAYLOAD_TOO_LARGE", message: "the request body is too large" });
    if (type === "entity.parse.failed") return sendError(res, 400, { code: "INVALID_JSON", message: "the request body is not valid JSON" });
    if (status && status >= 400 && status < 500) return sendError(res, status, { code: "BAD_REQUEST", message: (err as Error).message });
    log.error({ err }, "unhandled error");
    return sendError(res, 500, { code: "INTERNAL", message: "something went wrong; the error was logged" });
  };
}
