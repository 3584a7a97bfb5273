/**
 * An error with a stable machine-readable code. The API maps it to `{error: {code, message}}`
 * with `httpStatus`; workers use `retryable` to decide between a retry and a permanent failure.
 */
export class AppError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly details?: unknown;
  /** seconds; sent as Retry-After */
  readonly retryAfter?: number;

  constructor(
    code: string,
    message: string,
    options: { httpStatus?: number; retryable?: boolean; details?: unknown; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.httpStatus = options.httpStatus ?? 500;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`, { httpStatus: 404 });

export const validationError = (message: string, details?: unknown) =>
  new AppError("VALIDATION_ERROR", message, { httpStatus: 400, details });

export const conflict = (code: string, message: string) => new AppError(code, message, { httpStatus: 409 });

export const unavailable = (code: string, message: string, cause?: unknown, retryAfter = 5) =>
  new AppError(code, message, { httpStatus: 503, retryable: true, retryAfter, cause });

/** A failure that retrying cannot fix (bad input, unsupported document): the job ends `failed`. */
export const permanent = (code: string, message: string, details?: unknown) =>
  new AppError(code, message, { httpStatus: 422, retryable: false, details });
