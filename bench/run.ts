/**
 * `npm run bench [ingest|search|chat|eval|ann …]`: runs the benchmarks (all by default) against the real
 * services and writes bench/results/<name>-<date>.json and bench/results/latest-<name>.json.
 * Summaries are in docs/benchmarks.md.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { annBench } from "./ann.bench.ts";
import { backupBench } from "./backup.bench.ts";
import { chatBench } from "./chat.bench.ts";
import { evalBench } from "./eval.bench.ts";
import { fairnessBench } from "./fairness.bench.ts";
import { ingestBench } from "./ingest.bench.ts";
import { loadBench } from "./load.bench.ts";
import { ocrBench } from "./ocr.bench.ts";
import { parsersBench } from "./parsers.bench.ts";
import { pdfEnginesBench } from "./pdf-engines.bench.ts";
import { peerBench } from "./peer.bench.ts";
import { queueBench } from "./queue.bench.ts";
import { scalingBench } from "./scaling.bench.ts";
import { searchBench } from "./search.bench.ts";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));
const benches: Record<string, () => Promise<object>> = { ingest: ingestBench, search: searchBench, chat: chatBench, backup: backupBench, fairness: fairnessBench, load: loadBench, eval: evalBench, ann: annBench, ocr: ocrBench, parsers: parsersBench, "pdf-engines": pdfEnginesBench, scaling: scalingBench, queue: queueBench, peer: peerBench };
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(benches);

for (const name of wanted) {
  const bench = benches[name];
  if (!bench) throw new Error(`unknown benchmark "${name}"; choose from ${Object.keys(benches).join(", ")}`);
  process.stderr.write(`running ${name} …\n`);
  const result = {
    benchmark: name,
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    ...(await bench()),
  };
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(path.join(RESULTS, `${name}-${result.date.slice(0, 10)}.json`), json);
  writeFileSync(path.join(RESULTS, `latest-${name}.json`), json);
  process.stdout.write(json);
}
