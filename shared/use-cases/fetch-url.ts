import { createHash } from "node:crypto";
import type { Deps } from "../deps.ts";
import { AppError, permanent } from "../errors/app-error.ts";
import { isOutboundRefused, type OutboundResponse } from "../outbound/outbound-guard.ts";
import { detectType } from "../parsing/detect-type.ts";
import { assertIngestible } from "./ingestible.ts";

export interface FetchedDocument {
  content: Buffer;
  mimeType: string;
  sha256: string;
  /** The URL that answered, after redirects. */
  finalUrl: string;
}

/** Network errors that say the host does not exist (trying again will not help) rather than that it is down. */
const NO_SUCH_HOST = new Set(["ENOTFOUND", "EAI_NONAME", "EAI_NODATA"]);

const unreachable = (message: string, retryable: boolean) => new AppError("URL_UNREACHABLE", message, { httpStatus: 422, retryable });

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/**
 * Fetches a document posted as `{url}`, from a worker, through the outbound guard: public
 * addresses only (checked at connect time and on every redirect, unless OUTBOUND_ALLOWLIST lets a
 * host through), at most MAX_FILE_SIZE bytes, within URL_FETCH_TIMEOUT_MS. The type comes from the
 * bytes, with the URL's file name as a tie-breaker between text formats (never the Content-Type).
 *
 * Failures carry the document's error code: `URL_REFUSED` (an address or redirect the guard will
 * not follow), `URL_TOO_LARGE`, `URL_UNREACHABLE` (no answer, or an error status; retried when it
 * may pass: timeouts, refused connections, 408, 429, 5xx), `UNSUPPORTED_MEDIA_TYPE`, `NO_TEXT`.
 */
export async function fetchDocumentUrl(deps: Pick<Deps, "config" | "outbound">, url: string, signal?: AbortSignal): Promise<FetchedDocument> {
  const limit = deps.config.MAX_FILE_SIZE;
  let res: OutboundResponse;
  try {
    res = await deps.outbound.fetch(url, {
      headers: { accept: "*/*", "user-agent": "Quarry (URL ingestion)" },
      timeoutMs: deps.config.URL_FETCH_TIMEOUT_MS,
      maxResponseBytes: limit,
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    if (isOutboundRefused(err)) {
      if (err.code === "OUTBOUND_RESPONSE_TOO_LARGE") throw permanent("URL_TOO_LARGE", `the URL answers with more than ${limit} bytes (MAX_FILE_SIZE)`);
      if (err.code === "OUTBOUND_TIMEOUT") throw unreachable(`the URL gave no complete answer within ${deps.config.URL_FETCH_TIMEOUT_MS} ms`, true);
      throw permanent("URL_REFUSED", `the URL was refused: ${err.message}`);
    }
    const code = errorCode(err);
    if (code && NO_SUCH_HOST.has(code)) throw unreachable(`the URL's host does not resolve (${code})`, false);
    throw unreachable(`the URL could not be fetched: ${code ?? (err as Error).message}`, true);
  }
  if (res.status < 200 || res.status >= 300) {
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    throw unreachable(`the URL answered ${res.status}`, retryable);
  }
  if (res.body.length === 0) throw permanent("NO_TEXT", "the URL answered with an empty body");
  const fileName = new URL(res.url).pathname.split("/").pop() || undefined;
  const mimeType = await detectType(res.body, fileName);
  try {
    assertIngestible(deps.config, mimeType);
  } catch (err) {
    throw permanent("UNSUPPORTED_MEDIA_TYPE", `the URL answers with ${mimeType}: ${(err as Error).message}`);
  }
  return { content: res.body, mimeType, sha256: createHash("sha256").update(res.body).digest("hex"), finalUrl: res.url };
}
