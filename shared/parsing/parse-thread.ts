/** A parse sandbox thread: receives bytes, answers with chunks or a coded error, one task at a time. */
import { parentPort } from "node:worker_threads";
import { AppError } from "../errors/app-error.ts";
import { chunkSections } from "./chunker.ts";
import { OCR_NICE } from "./ocr/ocr-constants.ts";
import { onOcrPage } from "./ocr/ocr-deadline.ts";
import { lowerThisThreadPriority } from "./ocr/thread-priority.ts";
import { parserFor } from "./parsers.ts";
import type { ParseTask, ThreadReply } from "./sandbox.ts";

parentPort!.on("message", async (task: ParseTask) => {
  let reply: ThreadReply;
  let lowered = false;
  onOcrPage((ocrPage) => {
    // OCR (rendering, engine start, recognition) runs at a lower priority than other documents'
    // parsing; the sandbox discards this thread afterwards, since it cannot be raised again.
    if (!lowered) lowered = lowerThisThreadPriority(OCR_NICE);
    parentPort!.postMessage({ id: task.id, ocrPage } satisfies ThreadReply);
  });
  try {
    const content = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    const parsed = await (await parserFor(task.mimeType)).parse(content, task.limits);
    const chunks = chunkSections(parsed.sections, task.chunking);
    reply = { id: task.id, ok: true, result: { chunks, pageCount: parsed.pageCount, title: parsed.title, warnings: parsed.warnings, ocr: parsed.ocr } };
  } catch (err) {
    reply =
      err instanceof AppError
        ? { id: task.id, ok: false, error: { code: err.code, message: err.message, retryable: err.retryable } }
        : { id: task.id, ok: false, error: { code: "DOCUMENT_CORRUPT", message: `the file cannot be parsed: ${(err as Error).message}`, retryable: false } };
  }
  onOcrPage(undefined);
  parentPort!.postMessage(reply);
});
