import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
import { AppError } from "../../shared/errors/app-error.ts";

/** How deeply objects and arrays may nest in any JSON Quarry reads (a body, a multipart `metadata` field). */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests objects and arrays deeper than `maxDepth`, found by counting brackets
 * outside strings — before parsing, without recursion, so the check cannot overflow the stack
 * itself. Works on UTF-8 bytes: no byte of a multi-byte character is an ASCII bracket or quote.
 * Text that is not JSON may be misjudged; the parser refuses it anyway.
 */
export function jsonNestingExceeds(text: Uint8Array, maxDepth: number): boolean {
  const bytes = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      // Jump to the closing quote: one not preceded by an odd run of backslashes.
      for (;;) {
        const end = bytes.indexOf(QUOTE, i + 1);
        if (end < 0) return false;
        let slashes = 0;
        while (bytes[end - 1 - slashes] === BACKSLASH) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

export const jsonTooDeep = (maxDepth: number) =>
  new AppError("JSON_TOO_DEEP", `JSON may nest objects and arrays at most ${maxDepth} levels deep`, { httpStatus: 400, details: { max_depth: maxDepth } });

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** A request carries a body when it says so: chunked, or a Content-Length above zero. */
export function hasBody(req: Request): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = req.headers["content-length"];
  return length !== undefined && length !== "0";
}

const shown = (value: string) => (value.length > 100 ? `${value.slice(0, 100)}…` : value);

export interface JsonBodyOptions {
  /** Largest body in bytes (after decompression). */
  limit: number;
  maxDepth?: number;
  /** Routes (matched against the full path) that check their own body type, e.g. an upload taking multipart too. */
  ownBodyType?: RegExp[];
}

/**
 * JSON bodies for a router: a POST, PUT or PATCH that carries a body in anything but
 * `application/json` answers 415 `UNSUPPORTED_MEDIA_TYPE` (except on `ownBodyType` routes); one
 * that carries none goes on with no body, and the route's validation names the missing fields.
 * JSON must be UTF-8 (RFC 8259) and nest at most `maxDepth` levels (400 `JSON_TOO_DEEP`).
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler[] {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const ownBodyType = options.ownBodyType ?? [];
  const onlyJson = (req: Request, _res: Response, next: NextFunction) => {
    if (!BODY_METHODS.has(req.method) || !hasBody(req) || req.is("application/json")) return next();
    const path = req.baseUrl + req.path;
    if (ownBodyType.some((route) => route.test(path))) return next();
    const type = req.get("content-type");
    throw new AppError(
      "UNSUPPORTED_MEDIA_TYPE",
      `${req.method} ${path} takes a JSON body: send it with 'Content-Type: application/json' (got ${type ? `'${shown(type)}'` : "no Content-Type"})`,
      { httpStatus: 415, details: { content_type: type ? shown(type) : null } },
    );
  };
  const parse = express.json({
    limit: options.limit,
    verify: (_req, _res, buf, encoding) => {
      if (encoding !== "utf-8" && encoding !== "utf8") {
        throw new AppError("UNSUPPORTED_MEDIA_TYPE", `JSON bodies must be UTF-8 (got charset ${shown(encoding)})`, { httpStatus: 415 });
      }
      if (jsonNestingExceeds(buf, maxDepth)) throw jsonTooDeep(maxDepth);
    },
  });
  // GET and DELETE take no body: one sent anyway is left unread rather than refused.
  const parseBodies = (req: Request, res: Response, next: NextFunction) => (BODY_METHODS.has(req.method) ? parse(req, res, next) : next());
  return [onlyJson, parseBodies];
}
