import { Worker } from "node:worker_threads";
import { AppError, permanent } from "../errors/app-error.ts";
import type { Chunk, ChunkOptions } from "./chunker.ts";
import type { DocumentWarning, OcrReport, ParseLimits } from "./document-parser.ts";

export interface SandboxLimits extends ParseLimits {
  timeoutMs: number;
  maxMemoryMb: number;
  /**
   * OCR_PAGE_TIMEOUT_MS: each page OCR starts on may take this long, on top of what is left of
   * `timeoutMs` (the thread says when a page starts; at most `ocr.maxPages` pages extend it).
   */
  ocrPageTimeoutMs?: number;
}

/** OCR_PAGE_TIMEOUT_MS's default. */
export const DEFAULT_OCR_PAGE_TIMEOUT_MS = 60_000;

/** What a parse thread returns: the document already chunked (both happen off the main thread). */
export interface ParsedChunks {
  chunks: Chunk[];
  pageCount: number | null;
  title?: string;
  warnings?: DocumentWarning[];
  ocr?: OcrReport;
}

export interface ParseTask {
  id: number;
  bytes: Uint8Array;
  mimeType: string;
  limits: ParseLimits;
  chunking: ChunkOptions;
}

/** One parse as the calling process saw it: wall-clock time from handing it to a thread to the answer. */
export interface ParseObservation {
  mimeType: string;
  seconds: number;
  /** `ok`, the error's code (`PARSE_TIMEOUT`, `NO_TEXT`, …), or `aborted` (a cancel). */
  outcome: string;
  pages?: number | null;
  /** The pages OCR read, with their confidence (a parse that succeeded). */
  ocrPages?: Array<{ page: number; confidence: number }>;
}

export type ThreadReply =
  | { id: number; ok: true; result: ParsedChunks }
  | { id: number; ok: false; error: { code: string; message: string; retryable: boolean } }
  /** Not an answer: OCR starts on `ocrPage`, which gets its own time budget. */
  | { id: number; ocrPage: number };

const DEFAULT_ENTRY = new URL("./parse-thread.ts", import.meta.url);

/** One parse thread; it runs one task at a time and is discarded when a task breaks a limit. */
class ParseThread {
  readonly worker: Worker;
  uses = 0;
  dead = false;
  /** The thread ran OCR at a lowered CPU priority: it is not reused for other documents. */
  lowered = false;

  constructor(entry: URL, maxMemoryMb: number) {
    this.worker = new Worker(entry, {
      resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb, stackSizeMb: 8 },
      stdout: true,
      stderr: true,
    });
    // pdf.js warns on stdout/stderr about fonts; keep that noise out of the JSON logs.
    this.worker.stdout.resume();
    this.worker.stderr.resume();
    this.worker.on("error", () => (this.dead = true));
    this.worker.on("exit", () => (this.dead = true));
  }

  run(task: ParseTask, limits: SandboxLimits, signal?: AbortSignal): Promise<ParsedChunks> {
    this.uses++;
    this.worker.ref();
    return new Promise((resolve, reject) => {
      const onAbort = () => fail(signal!.reason instanceof Error ? signal!.reason : new Error("parsing was aborted"));
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.worker.off("message", onMessage);
        this.worker.off("error", onError);
        this.worker.off("exit", onExit);
        this.worker.unref();
      };
      const fail = (err: Error) => {
        cleanup();
        this.dead = true;
        void this.worker.terminate();
        reject(err);
      };
      const onMessage = (reply: ThreadReply) => {
        if (reply.id !== task.id) return;
        if ("ocrPage" in reply) return ocrPageStarts(reply.ocrPage);
        cleanup();
        if (reply.ok) resolve(reply.result);
        else reject(new AppError(reply.error.code, reply.error.message, { httpStatus: 422, retryable: reply.error.retryable }));
      };
      const onError = (err: Error & { code?: string }) =>
        fail(
          err.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? permanent("DOCUMENT_TOO_LARGE", `parsing needed more than ${limits.maxMemoryMb} MB of memory and was stopped`)
            : permanent("DOCUMENT_CORRUPT", `the parser crashed on this file: ${err.message}`),
        );
      const onExit = (code: number) => fail(permanent("DOCUMENT_CORRUPT", `the parser exited (code ${code}) without an answer`));
      const pageMs = limits.ocrPageTimeoutMs ?? DEFAULT_OCR_PAGE_TIMEOUT_MS;
      let deadline = performance.now() + limits.timeoutMs;
      let ocrPages = 0;
      let ocrPage = 0;
      const timedOut = () =>
        fail(
          permanent(
            "PARSE_TIMEOUT",
            ocrPage
              ? `OCR of page ${ocrPage} took longer than ${Math.round(pageMs / 1000)} s (OCR_PAGE_TIMEOUT_MS) and parsing was stopped`
              : `parsing took longer than ${Math.round(limits.timeoutMs / 1000)} s and was stopped`,
          ),
        );
      let timer = setTimeout(timedOut, limits.timeoutMs);
      // A page's budget starts when the thread says it starts; the parse's own budget is never shortened.
      const ocrPageStarts = (page: number) => {
        this.lowered = true;
        if (++ocrPages > Math.max(1, limits.ocr.maxPages)) return;
        ocrPage = page;
        deadline = Math.max(deadline, performance.now() + pageMs);
        clearTimeout(timer);
        timer = setTimeout(timedOut, deadline - performance.now());
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.worker.on("message", onMessage);
      this.worker.once("error", onError);
      this.worker.once("exit", onExit);
      this.worker.postMessage(task, [task.bytes.buffer as ArrayBuffer]);
    });
  }
}

/**
 * Parses and chunks untrusted bytes in worker threads with a heap limit and a wall-clock limit.
 * pdf.js and friends block their event loop, so a timer in the same thread could never fire; here
 * the thread is terminated. Out of memory → DOCUMENT_TOO_LARGE, too slow → PARSE_TIMEOUT, a crash →
 * DOCUMENT_CORRUPT; the calling process is unharmed either way.
 *
 * Threads are kept warm between documents (loading pdf.js and the tokenizer costs ~0.3 s) and
 * replaced after `recycleAfter` documents or any broken limit. `entry` is the thread's module
 * (tests pass a hostile one to prove the limits hold).
 */
export class ParsePool {
  private readonly idle: ParseThread[] = [];
  private readonly limits: SandboxLimits;
  private readonly entry: URL;
  private readonly maxIdle: number;
  private readonly recycleAfter: number;
  private readonly observe?: (p: ParseObservation) => void;
  private nextId = 1;
  /** Threads created so far (a warm pool reuses them). */
  threadsStarted = 0;

  /** `observe` hears of every parse that ends (the process's metrics). */
  constructor(limits: SandboxLimits, options: { maxIdle?: number; recycleAfter?: number; entry?: URL; observe?: (p: ParseObservation) => void } = {}) {
    this.limits = limits;
    this.entry = options.entry ?? DEFAULT_ENTRY;
    this.maxIdle = options.maxIdle ?? 2;
    this.recycleAfter = options.recycleAfter ?? 50;
    this.observe = options.observe;
  }

  /** Parses in a warm thread; `signal` (a cancelled job) stops the thread and rejects with its reason. */
  async parse(content: Buffer, mimeType: string, chunking: ChunkOptions, signal?: AbortSignal): Promise<ParsedChunks> {
    let thread = this.idle.pop();
    while (thread?.dead) thread = this.idle.pop();
    if (!thread) {
      thread = new ParseThread(this.entry, this.limits.maxMemoryMb);
      this.threadsStarted++;
    }
    const bytes = new Uint8Array(content.byteLength);
    bytes.set(content);
    const { maxPages, maxDecompressedBytes, ocr } = this.limits;
    const started = performance.now();
    const observe = (outcome: string, pages?: number | null, ocrPages?: ParseObservation["ocrPages"]) =>
      this.observe?.({ mimeType, seconds: (performance.now() - started) / 1000, outcome, pages, ocrPages });
    try {
      const parsed = await thread.run({ id: this.nextId++, bytes, mimeType, limits: { maxPages, maxDecompressedBytes, ocr }, chunking }, this.limits, signal);
      observe("ok", parsed.pageCount, parsed.ocr?.pages);
      return parsed;
    } catch (err) {
      observe(err instanceof AppError ? err.code : "aborted");
      throw err;
    } finally {
      if (!thread.dead && !thread.lowered && thread.uses < this.recycleAfter && this.idle.length < this.maxIdle) this.idle.push(thread);
      else if (!thread.dead) void thread.worker.terminate();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((t) => t.worker.terminate()));
  }
}
