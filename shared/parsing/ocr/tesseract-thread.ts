/**
 * tesseract.js's own worker script for Node with a stricter adapter: traineddata come only from the
 * installed `@tesseract.js-data/*` packages (the virtual langPath below), nothing is fetched, no
 * cache is written, and the thread lowers its own CPU priority so OCR yields to other parsing.
 * tesseract.js spawns this file (`workerPath`) as a worker thread of the parse thread, so it dies
 * with it.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { parentPort } from "node:worker_threads";
import { OCR_LANGUAGE_ROOT, OCR_NICE } from "./ocr-constants.ts";
import { ocrLanguageFile } from "./ocr-languages.ts";
import { lowerThisThreadPriority } from "./thread-priority.ts";

const require = createRequire(import.meta.url);
const worker = require("tesseract.js/src/worker-script/index.js") as {
  dispatchHandlers(packet: unknown, send: (obj: unknown) => void): void;
  setAdapter(adapter: Record<string, unknown>): void;
};
const getCore = require("tesseract.js/src/worker-script/node/getCore.js") as (oem: number, corePath: unknown, res: unknown) => Promise<unknown>;
const gunzip = require("tesseract.js/src/worker-script/node/gunzip.js") as (data: Uint8Array) => Uint8Array;

lowerThisThreadPriority(OCR_NICE);

async function readLanguage(file: string): Promise<Uint8Array> {
  const name = path.basename(file);
  const lang = name.endsWith(".traineddata.gz") ? name.slice(0, -".traineddata.gz".length) : null;
  const source = path.dirname(file) === OCR_LANGUAGE_ROOT && lang ? ocrLanguageFile(lang) : null;
  if (!source) throw new Error(`OCR language data ${name} is not installed (npm package @tesseract.js-data/${lang ?? name})`);
  return readFile(source);
}

worker.setAdapter({
  // The full core (LSTM and legacy): automatic page orientation (osd) needs the legacy classifier.
  getCore: (_lstmOnly: boolean, corePath: unknown, res: unknown) => getCore(2, corePath, res),
  gunzip,
  fetch: () => Promise.reject(new Error("OCR fetches nothing at run time")),
  readCache: readLanguage,
  writeCache: () => Promise.resolve(),
  deleteCache: () => Promise.resolve(),
  checkCache: () => Promise.resolve(false),
});

parentPort!.on("message", (packet) => worker.dispatchHandlers(packet, (obj) => parentPort!.postMessage(obj)));
