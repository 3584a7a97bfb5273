/**
 * The LangChain.js pipeline Quarry is compared against (issue 14), one variant per process so its
 * peak RSS is its own: `node bench/peer/run.ts char|token|raw`. Prints one JSON object on stdout.
 *
 * - char:  PDFLoader → RecursiveCharacterTextSplitter (800 tokens' worth of characters) → Quarry's
 *          local embedder → MemoryVectorStore
 * - token: PDFLoader → TokenTextSplitter 800/200 on cl100k_base (js-tiktoken's bundled ranks) → same
 * - raw:   pdf-parse `getText()` alone, on the pdf.js this package installs (what PDFLoader runs)
 *
 * One thread, the four bench PDFs read by path from the corpus, a warm-up round, then BENCH_ROUNDS
 * timed rounds (3 by default).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Document } from "@langchain/core/documents";
import { PDFLoader } from "@langchain/community/document_loaders/fs/pdf";
import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
import { RecursiveCharacterTextSplitter, TokenTextSplitter } from "@langchain/textsplitters";
import type { TextSplitter } from "@langchain/textsplitters";
import { Tiktoken } from "js-tiktoken/lite";
import cl100kBase from "js-tiktoken/ranks/cl100k_base";
import { PDFParse } from "pdf-parse";
import { corpusPath } from "../../test/helpers/corpus.ts";
import { QuarryLocalEmbeddings } from "./quarry-local.embeddings.ts";

export const FILES = ["pdf/freeculture.pdf", "pdf/tracemonkey.pdf", "pdf/160F-2019.pdf", "pdf/issue5747.pdf"];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHUNK_TOKENS = 800;
const OVERLAP_TOKENS = 200;
/** Characters per token for the character splitter: English prose in cl100k_base runs about 4. */
const CHARS_PER_TOKEN = 4;
const HERE = path.dirname(fileURLToPath(import.meta.url));

// Nothing here may reach the network: LangChain's getEncoding() would fetch its ranks.
globalThis.fetch = () => Promise.reject(new Error("the peer bench must not use the network"));

type Variant = "char" | "token" | "raw";
interface RoundResult {
  pages: number;
  chunks: number;
}

function splitterFor(variant: "char" | "token"): TextSplitter {
  if (variant === "char") {
    return new RecursiveCharacterTextSplitter({ chunkSize: CHUNK_TOKENS * CHARS_PER_TOKEN, chunkOverlap: OVERLAP_TOKENS * CHARS_PER_TOKEN });
  }
  const splitter = new TokenTextSplitter({ encodingName: "cl100k_base", chunkSize: CHUNK_TOKENS, chunkOverlap: OVERLAP_TOKENS });
  // `tokenizer` is private and filled on first use by getEncoding(), which downloads the ranks;
  // set it first from the ranks js-tiktoken ships, so the splitter never asks.
  (splitter as unknown as { tokenizer: Tiktoken }).tokenizer = new Tiktoken(cl100kBase);
  return splitter;
}

async function pipelineRound(splitter: TextSplitter): Promise<RoundResult> {
  const embeddings = new QuarryLocalEmbeddings();
  const store = new MemoryVectorStore(embeddings);
  let pages = 0;
  let chunks = 0;
  for (const file of FILES) {
    const docs: Document[] = await new PDFLoader(corpusPath(file)).load();
    pages += (docs[0]?.metadata.pdf as { totalPages?: number } | undefined)?.totalPages ?? 0;
    const split = await splitter.splitDocuments(docs);
    await store.addDocuments(split);
    chunks += split.length;
  }
  if (store.memoryVectors.length !== chunks) throw new Error(`store holds ${store.memoryVectors.length} vectors for ${chunks} chunks`);
  return { pages, chunks };
}

async function rawRound(): Promise<RoundResult> {
  let pages = 0;
  for (const file of FILES) {
    const parser = new PDFParse({ data: new Uint8Array(readFileSync(corpusPath(file))) });
    pages += (await parser.getText()).total;
    await parser.destroy();
  }
  return { pages, chunks: 0 };
}

/** The version of `name` that code in `from` resolves to (walks node_modules up, as Node does). */
function installedVersion(name: string, from = HERE): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "node_modules", name, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function versions(): Record<string, string | undefined> {
  const pdfParseDir = path.join(HERE, "node_modules", "pdf-parse");
  return {
    node: process.version,
    "@langchain/core": installedVersion("@langchain/core"),
    "@langchain/community": installedVersion("@langchain/community"),
    "@langchain/classic": installedVersion("@langchain/classic"),
    "@langchain/textsplitters": installedVersion("@langchain/textsplitters"),
    "js-tiktoken": installedVersion("js-tiktoken"),
    "pdf-parse": installedVersion("pdf-parse"),
    "pdfjs-dist (as pdf-parse resolves it)": installedVersion("pdfjs-dist", pdfParseDir),
  };
}

function peakRssMb(): number {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(variant: Variant) {
  const round = variant === "raw" ? rawRound : ((splitter) => () => pipelineRound(splitter))(splitterFor(variant));
  const warmUp = await round(); // module load, JIT, first pdf.js fonts
  const rounds: Array<RoundResult & { seconds: number; pagesPerSecond: number }> = [];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const r = await round();
    const seconds = (performance.now() - t0) / 1000;
    rounds.push({ ...r, seconds: Number(seconds.toFixed(3)), pagesPerSecond: Math.round(r.pages / seconds) });
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const pages = rounds.reduce((n, r) => n + r.pages, 0);
  const perRound = rounds.map((r) => r.pagesPerSecond);
  return {
    variant,
    splitter:
      variant === "char"
        ? { name: "RecursiveCharacterTextSplitter", chunkSize: CHUNK_TOKENS * CHARS_PER_TOKEN, chunkOverlap: OVERLAP_TOKENS * CHARS_PER_TOKEN, charsPerToken: CHARS_PER_TOKEN }
        : variant === "token"
          ? { name: "TokenTextSplitter", encoding: "cl100k_base (js-tiktoken/ranks/cl100k_base, offline)", chunkSize: CHUNK_TOKENS, chunkOverlap: OVERLAP_TOKENS }
          : null,
    files: FILES,
    rounds: ROUNDS,
    warmUpPages: warmUp.pages,
    pages,
    chunks: rounds.reduce((n, r) => n + r.chunks, 0),
    seconds: Number(seconds.toFixed(3)),
    pagesPerSecond: Math.round(pages / seconds),
    perRound: rounds,
    roundPagesPerSecond: { median: median(perRound), min: Math.min(...perRound), max: Math.max(...perRound) },
    cpuSeconds: Number(cpuSeconds.toFixed(2)),
    cpuSecondsPer1000Pages: Number(((cpuSeconds / pages) * 1000).toFixed(2)),
    peakRssMb: peakRssMb(),
    versions: versions(),
  };
}

const variant = process.argv[2];
if (variant !== "char" && variant !== "token" && variant !== "raw") throw new Error(`usage: node bench/peer/run.ts char|token|raw (got ${variant})`);
process.stdout.write(`${JSON.stringify(await main(variant))}\n`);
