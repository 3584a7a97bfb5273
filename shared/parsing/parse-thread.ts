/** The parse sandbox's thread: receives bytes, answers with sections or a coded error. */
import { parentPort, workerData } from "node:worker_threads";
import { AppError } from "../errors/app-error.ts";
import type { ParseLimits } from "./document-parser.ts";
import { parserFor } from "./parsers.ts";
import type { ThreadReply } from "./sandbox.ts";

const { mimeType, limits } = workerData as { mimeType: string; limits: ParseLimits };

parentPort!.once("message", async (bytes: Uint8Array) => {
  let reply: ThreadReply;
  try {
    const content = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    reply = { ok: true, result: await (await parserFor(mimeType)).parse(content, limits) };
  } catch (err) {
    reply =
      err instanceof AppError
        ? { ok: false, error: { code: err.code, message: err.message, retryable: err.retryable } }
        : { ok: false, error: { code: "DOCUMENT_CORRUPT", message: `the file cannot be parsed: ${(err as Error).message}`, retryable: false } };
  }
  parentPort!.postMessage(reply);
});
