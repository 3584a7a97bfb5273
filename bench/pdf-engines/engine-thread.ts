/** One engine in its own thread (workerData.engine), so a hostile file can only take this thread down. */
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort, workerData } from "node:worker_threads";
import { type EngineName, loadEngine } from "./engines.ts";

export type EngineRequest =
  | { op: "speed"; files: string[] }
  | { op: "text"; file: string }
  | { op: "memory"; file: string; parses: number };

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const engine = await loadEngine((workerData as { engine: EngineName }).engine);
const bytesOf = new Map<string, Uint8Array>();
const read = (file: string) => bytesOf.get(file) ?? bytesOf.set(file, new Uint8Array(readFileSync(file))).get(file)!;

parentPort!.on("message", async (req: EngineRequest) => {
  try {
    if (req.op === "speed") {
      let pages = 0;
      const cpu = process.threadCpuUsage();
      const started = performance.now();
      for (const file of req.files) pages += (await engine.extract(read(file))).pageCount;
      const ms = performance.now() - started;
      const used = process.threadCpuUsage(cpu);
      parentPort!.postMessage({ ok: true, pages, ms, cpuMs: (used.user + used.system) / 1000 });
    } else if (req.op === "text") {
      const started = performance.now();
      const doc = await engine.extract(read(req.file));
      parentPort!.postMessage({ ok: true, ...doc, ms: performance.now() - started });
    } else {
      const samples: Array<{ parse: number; heapMb: number; rssMb: number; wasmMb: number }> = [];
      for (let i = 1; i <= req.parses; i++) {
        await engine.extract(read(req.file));
        gc();
        const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
        samples.push({ parse: i, heapMb: mb(process.memoryUsage().heapUsed), rssMb: mb(process.memoryUsage.rss()), wasmMb: mb(engine.wasmBytes?.() ?? 0) });
      }
      parentPort!.postMessage({ ok: true, samples });
    }
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string };
    parentPort!.postMessage({ ok: false, error: { name: e.name, code: e.code, message: String(e.message ?? err).slice(0, 300) } });
  }
});
parentPort!.postMessage({ ready: true, version: engine.version });
