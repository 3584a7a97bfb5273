/**
 * `npm run bench -- peer`: Quarry against the LangChain.js pipeline a user would write instead
 * (bench/peer, its own package), in the same window. Each trial runs, in a rotating order, the
 * peer's character pipeline, its token pipeline and raw pdf-parse on the peer's pdf.js (each a
 * child process, so its memory is its own) and Quarry's ingest bench (api + worker + raw pdf-parse
 * on Quarry's pdf.js). Three trials by default (BENCH_PEER_TRIALS); medians over trials.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ingestBench } from "./ingest.bench.ts";

const PEER_DIR = fileURLToPath(new URL("./peer/", import.meta.url));
const ROOT = path.resolve(PEER_DIR, "../..");
const TRIALS = Number(process.env.BENCH_PEER_TRIALS ?? 3);
const PEER_VARIANTS = ["char", "token", "raw"] as const;
type Step = (typeof PEER_VARIANTS)[number] | "quarry";

interface PeerRun {
  pages: number;
  chunks: number;
  pagesPerSecond: number;
  perRound: Array<{ pagesPerSecond: number }>;
  cpuSecondsPer1000Pages: number;
  peakRssMb: number;
  versions: Record<string, string>;
}
type QuarryRun = Awaited<ReturnType<typeof ingestBench>>;

function installPeer(): void {
  if (existsSync(path.join(PEER_DIR, "node_modules"))) return;
  process.stderr.write("installing bench/peer dependencies …\n");
  // npm's output goes to stderr: stdout carries the result JSON.
  const npm = spawnSync("npm", ["install", "--prefix", PEER_DIR, "--no-audit", "--no-fund"], { stdio: ["ignore", 2, 2] });
  if (npm.status !== 0) throw new Error(`npm install --prefix bench/peer failed (${npm.status ?? npm.signal})`);
}

function runPeer(variant: string): Promise<PeerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PEER_DIR, "run.ts"), variant], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`peer ${variant} exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(out.trim().split("\n").at(-1)!) as PeerRun);
    });
  });
}

/** What Quarry code ran: ingestBench() spawns the api and worker from the working tree, edits and all. */
function tree() {
  const git = (...args: string[]) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout.trim();
  const uncommitted = git("status", "--porcelain", "--", "api", "workers", "shared", "package.json").split("\n").filter(Boolean);
  return { commit: git("rev-parse", "--short", "HEAD"), uncommittedProductFiles: uncommitted };
}

function version(name: string): string {
  return (JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
function spread(xs: number[]) {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: round1(median), min: round1(sorted[0]!), max: round1(sorted.at(-1)!), n: xs.length };
}

export async function peerBench() {
  installPeer();
  const quarryTree = tree();
  // Like for like: the peer does no OCR, so by default neither does Quarry (freeculture.pdf's
  // cover is the corpus's one page without a text layer, ~6 s of OCR per round). Set
  // BENCH_OCR_ENABLED=true to measure Quarry as configured by default.
  process.env.BENCH_OCR_ENABLED ??= "false";
  const peer: Record<(typeof PEER_VARIANTS)[number], PeerRun[]> = { char: [], token: [], raw: [] };
  const quarry: QuarryRun[] = [];
  const missed: Array<{ trial: number; step: Step; error: string }> = [];
  const trials: Array<{ trial: number; order: Step[]; loadAverage: { before: number; after: number } }> = [];
  const steps: Step[] = [...PEER_VARIANTS, "quarry"];

  for (let trial = 0; trial < TRIALS; trial++) {
    // Rotate the order so no side always runs first (or right after Quarry's Postgres/LanceDB work).
    const order = steps.map((_, i) => steps[(i + trial) % steps.length]!);
    const before = os.loadavg()[0]!;
    for (const step of order) {
      process.stderr.write(`peer bench: trial ${trial + 1}/${TRIALS}, ${step} …\n`);
      try {
        if (step === "quarry") quarry.push(await ingestBench());
        else peer[step].push(await runPeer(step));
      } catch (error) {
        missed.push({ trial: trial + 1, step, error: String(error).slice(0, 500) });
      }
    }
    trials.push({ trial: trial + 1, order, loadAverage: { before: round1(before), after: round1(os.loadavg()[0]!) } });
  }

  const peerSummary = (runs: PeerRun[]) => ({
    pagesPerSecond: spread(runs.map((r) => r.pagesPerSecond)),
    // Every timed round of every trial (368 pages each): how noisy one round is.
    roundPagesPerSecond: spread(runs.flatMap((r) => r.perRound.map((x) => x.pagesPerSecond))),
    cpuSecondsPer1000Pages: spread(runs.map((r) => r.cpuSecondsPer1000Pages)),
    peakRssMb: spread(runs.map((r) => r.peakRssMb)),
    chunksPerTrial: runs[0]?.chunks,
  });
  const summary = {
    quarry: {
      pagesPerSecond: spread(quarry.map((q) => q.pipeline.pagesPerSecond)),
      workerCpuSecondsPer1000Pages: spread(quarry.map((q) => (q.pipeline.workerCpuSeconds / q.pipeline.pages) * 1000)),
      workerAndApiCpuSecondsPer1000Pages: spread(quarry.map((q) => ((q.pipeline.workerCpuSeconds + q.pipeline.apiCpuSeconds) / q.pipeline.pages) * 1000)),
      workerPeakRssMb: spread(quarry.map((q) => q.pipeline.workerPeakRssMb)),
      apiPeakRssMb: spread(quarry.map((q) => q.pipeline.apiPeakRssMb)),
      chunksPerTrial: quarry[0]?.pipeline.chunks,
    },
    // Quarry's raw parser runs in the bench process, one thread; its CPU counts V8's helper threads too.
    quarryRawPdfParse: {
      pagesPerSecond: spread(quarry.map((q) => q.raw_pdf_parse.pagesPerSecond)),
      cpuSecondsPer1000Pages: spread(quarry.map((q) => (q.raw_pdf_parse.cpuSeconds / q.raw_pdf_parse.pages) * 1000)),
    },
    langchainChar: peerSummary(peer.char),
    langchainToken: peerSummary(peer.token),
    peerRawPdfParse: peerSummary(peer.raw),
  };

  const q = summary.quarry;
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? Number((a / b).toFixed(2)) : null);
  const met = (value: number | null, ok: (v: number) => boolean) => (value === null ? "not measured" : ok(value) ? "met" : "not met");
  const charRatio = ratio(q.pagesPerSecond?.median, summary.langchainChar.pagesPerSecond?.median);
  const tokenRatio = ratio(q.pagesPerSecond?.median, summary.langchainToken.pagesPerSecond?.median);
  const rssChar = ratio(q.workerPeakRssMb?.median, summary.langchainChar.peakRssMb?.median);
  const rssToken = ratio(q.workerPeakRssMb?.median, summary.langchainToken.peakRssMb?.median);
  // Only without OCR: the raw parser reads no scanned page.
  const cpuOverRaw = process.env.BENCH_OCR_ENABLED === "false" ? ratio(q.workerCpuSecondsPer1000Pages?.median, summary.quarryRawPdfParse.cpuSecondsPer1000Pages?.median) : null;
  const targets = {
    quarryWorkerCpuPerPageOverRawParser: { value: cpuOverRaw, target: 1.3, result: met(cpuOverRaw, (v) => v <= 1.3) },
    quarryOverCharPagesPerSecond: { value: charRatio, target: 1.5, result: met(charRatio, (v) => v >= 1.5) },
    quarryOverTokenPagesPerSecond: { value: tokenRatio, target: 1.7, result: met(tokenRatio, (v) => v >= 1.7) },
    quarryWorkerRssOverCharRss: { value: rssChar, target: 1, result: met(rssChar, (v) => v <= 1) },
    quarryWorkerRssOverTokenRss: { value: rssToken, target: 1, result: met(rssToken, (v) => v <= 1) },
  };

  return {
    trials: TRIALS,
    quarryOcrEnabled: process.env.BENCH_OCR_ENABLED !== "false",
    note: "each trial: 4 PDFs × 3 rounds = 1,104 pages per side after a warm-up round; medians/min/max are over trials",
    versions: {
      peer: peer.char[0]?.versions ?? peer.token[0]?.versions ?? peer.raw[0]?.versions,
      quarry: { "pdf-parse": version("pdf-parse"), pdfjsDist: version("pdfjs-dist"), node: process.version, ...quarryTree },
    },
    summary,
    targets,
    missed,
    order: trials,
    runs: { quarry, ...peer },
  };
}
