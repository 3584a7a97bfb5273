import { createHash } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors/app-error.ts";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** Visible ASCII, 1–255 characters (a UUID, a ULID, anything a client generates). */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** JSON with its object keys sorted: the same body however its keys were ordered. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const pathOf = (req: Request) => new URL(req.originalUrl, "http://quarry").pathname;

/** What a request is, for its key: method, path and query, and its body. */
function fingerprint(req: Request, body: unknown): string {
  return createHash("sha256").update(`${req.method} ${req.originalUrl}\n${canonicalJson(body)}`).digest("hex");
}

/**
 * From the first answer's `res.json` on: keeps it for the key (2xx–4xx), or lets the key go (5xx,
 * 429, anything with Retry-After — worth trying again). The answer is written after it is kept, so a client that retries the
 * moment it has it finds it. An answer that is not JSON (none is, for these routes) lets the key go.
 */
function keepAnswer(deps: Pick<Deps, "idempotency" | "logger">, res: Response, tenantId: string, key: string, token: string): void {
  const send = res.json.bind(res);
  let settled = false;
  res.json = (body: unknown) => {
    if (settled) return send(body);
    settled = true;
    const status = res.statusCode;
    // An answer that says "try again later" (a 5xx, a 429, a 409 COLLECTION_BUSY: any with
    // Retry-After) is not the request's answer: the key is let go so that the retry runs.
    const keep = status < 500 && status !== 429 && res.get("Retry-After") === undefined;
    const location = res.get("Location") ?? null;
    const write = keep ? deps.idempotency.complete(tenantId, key, token, { status, location, body }) : deps.idempotency.release(tenantId, key, token);
    void write
      .catch((err: unknown) => deps.logger.warn({ err }, "could not keep an idempotent answer; a retry with its key will run again"))
      .finally(() => send(body));
    return res;
  };
  res.on("finish", () => {
    if (settled) return;
    settled = true;
    void deps.idempotency.release(tenantId, key, token).catch((err: unknown) => deps.logger.warn({ err }, "could not release an idempotency key"));
  });
}

/**
 * Applies `Idempotency-Key` to a request whose body is `body`: the first request with a key is
 * answered and its answer kept for 24 hours; the same key with the same method, path and body
 * answers that again (`Idempotent-Replayed: true`), from any api process; with another request →
 * 409 `IDEMPOTENCY_KEY_REUSED`; while the first is still being answered → 409
 * `IDEMPOTENCY_KEY_IN_FLIGHT`. Returns false when the answer has been given here.
 */
export async function claimIdempotency(deps: Pick<Deps, "idempotency" | "logger">, req: Request, res: Response, body: unknown, tenantId: string): Promise<boolean> {
  const key = req.get(IDEMPOTENCY_HEADER);
  if (key === undefined) return true;
  if (!KEY.test(key)) {
    throw new AppError("INVALID_IDEMPOTENCY_KEY", `${IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters (a UUID, say)`, { httpStatus: 400 });
  }
  const print = fingerprint(req, body);
  for (let tries = 0; tries < 2; tries++) {
    const token = await deps.idempotency.claim(tenantId, key, print);
    if (token) {
      keepAnswer(deps, res, tenantId, key, token);
      return true;
    }
    const row = await deps.idempotency.find(tenantId, key);
    if (!row) continue; // it expired between the two statements: claim it again
    if (row.fingerprint !== print) {
      throw new AppError("IDEMPOTENCY_KEY_REUSED", `this ${IDEMPOTENCY_HEADER} was used for another request (method, path or body); send a new key`, { httpStatus: 409 });
    }
    if (row.state === "in_flight") {
      throw new AppError("IDEMPOTENCY_KEY_IN_FLIGHT", `a request with this ${IDEMPOTENCY_HEADER} is still being answered; retry when it has been`, { httpStatus: 409, retryAfter: 1 });
    }
    res.status(row.status_code ?? 200).set("Idempotent-Replayed", "true");
    if (row.location) res.location(row.location);
    res.json(row.body);
    return false;
  }
  throw new AppError("IDEMPOTENCY_KEY_IN_FLIGHT", `a request with this ${IDEMPOTENCY_HEADER} is still being answered; retry when it has been`, { httpStatus: 409, retryAfter: 1 });
}

export interface IdempotencyOptions {
  /** POST routes that only read (search, embeddings): their key is ignored. */
  reads?: RegExp[];
  /** Routes that claim the key themselves once they have read their body (multipart uploads). */
  deferred?: RegExp[];
  /** The tenant of routes without an API key (the operator's). */
  tenant?: string;
}

/** `Idempotency-Key` on every POST of a router after its JSON body is parsed (see {@link claimIdempotency}). */
export function idempotency(deps: Pick<Deps, "idempotency" | "logger">, options: IdempotencyOptions = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== "POST" || req.get(IDEMPOTENCY_HEADER) === undefined) return next();
    const path = pathOf(req);
    if (options.reads?.some((r) => r.test(path))) return next();
    if (options.deferred?.some((r) => r.test(path)) && !req.is("application/json")) return next();
    // A streamed chat answer cannot be replayed: its key is ignored (send it without `stream`).
    if ((req.body as { stream?: unknown } | undefined)?.stream === true) return next();
    claimIdempotency(deps, req, res, req.body ?? null, options.tenant ?? req.tenantId).then(
      (go) => (go ? next() : undefined),
      (err: unknown) => next(err),
    );
  };
}
