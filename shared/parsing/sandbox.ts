import { Worker } from "node:worker_threads";
import { AppError, permanent } from "../errors/app-error.ts";
import type { ParsedDocument, ParseLimits } from "./document-parser.ts";

export interface SandboxLimits extends ParseLimits {
  timeoutMs: number;
  maxMemoryMb: number;
}

export type ThreadReply = { ok: true; result: ParsedDocument } | { ok: false; error: { code: string; message: string; retryable: boolean } };

const DEFAULT_ENTRY = new URL("./parse-thread.ts", import.meta.url);

/**
 * Parses untrusted bytes in a fresh worker thread with a heap limit and a wall-clock limit. pdf.js
 * and friends block their event loop, so a timer in the same thread could never fire; here the
 * thread is terminated. Out of memory → DOCUMENT_TOO_LARGE, too slow → PARSE_TIMEOUT, a crash →
 * DOCUMENT_CORRUPT; the calling process is unharmed either way.
 *
 * `entry` is the thread's module (tests pass a hostile one to prove the limits hold).
 */
export function parseInSandbox(content: Buffer, mimeType: string, limits: SandboxLimits, entry: URL = DEFAULT_ENTRY): Promise<ParsedDocument> {
  return new Promise((resolve, reject) => {
    const bytes = new Uint8Array(content.byteLength);
    bytes.set(content);
    const worker = new Worker(entry, {
      workerData: { mimeType, limits: { maxPages: limits.maxPages, maxDecompressedBytes: limits.maxDecompressedBytes } },
      resourceLimits: { maxOldGenerationSizeMb: limits.maxMemoryMb, maxYoungGenerationSizeMb: 64, stackSizeMb: 8 },
      stdout: true,
      stderr: true,
    });
    // pdf.js warns on stdout/stderr about fonts; keep that noise out of the JSON logs.
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(
      () => finish(() => reject(permanent("PARSE_TIMEOUT", `parsing took longer than ${Math.round(limits.timeoutMs / 1000)} s and was stopped`))),
      limits.timeoutMs,
    );
    worker.once("message", (reply: ThreadReply) =>
      finish(() => {
        if (reply.ok) resolve(reply.result);
        else reject(new AppError(reply.error.code, reply.error.message, { httpStatus: 422, retryable: reply.error.retryable }));
      }),
    );
    worker.once("error", (err: Error & { code?: string }) =>
      finish(() => {
        if (err.code === "ERR_WORKER_OUT_OF_MEMORY") {
          reject(permanent("DOCUMENT_TOO_LARGE", `parsing needed more than ${limits.maxMemoryMb} MB of memory and was stopped`));
        } else {
          reject(permanent("DOCUMENT_CORRUPT", `the parser crashed on this file: ${err.message}`));
        }
      }),
    );
    worker.once("exit", (code) => finish(() => reject(permanent("DOCUMENT_CORRUPT", `the parser exited (code ${code}) without an answer`))));
    worker.postMessage(bytes, [bytes.buffer]);
  });
}
