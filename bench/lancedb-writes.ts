/**
 * LanceDB alone, in its own process (run by bench/scaling.bench.ts, with and without
 * MALLOC_ARENA_MAX): WRITES writes of 10 rows (384-dimension vectors, 2 KB of text) into one table,
 * `add` or `mergeInsert` (argv[2]), compacted and cleaned up every 50 writes as Quarry's maintenance
 * does. Prints the process's RSS every 100 writes as JSON: whether RSS creeps without Quarry.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { memoryMb } from "./stats.ts";

const WRITES = Number(process.env.WRITES ?? 600);
const mode = process.argv[2] === "add" ? "add" : "mergeInsert";
const dir = mkdtempSync(path.join(os.tmpdir(), "quarry-lancedb-writes-"));
try {
  const db = await lancedb.connect(dir);
  const row = (write: number, i: number) => ({ id: `${write}-${i}`, vector: Array.from({ length: 384 }, () => Math.random()), text: "durable job records ".repeat(100) });
  const table = await db.createTable("points", [row(-1, 0)]);
  const samples: Array<{ writes: number; rssMb: number }> = [];
  for (let write = 0; write < WRITES; write++) {
    const rows = Array.from({ length: 10 }, (_, i) => row(write, i));
    if (mode === "add") await table.add(rows);
    else await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
    if (write % 50 === 49) await table.optimize({ cleanupOlderThan: new Date() });
    if (write + 1 === 10 || (write + 1) % 100 === 0) samples.push({ writes: write + 1, rssMb: memoryMb(process.pid, "VmRSS") });
  }
  table.close();
  db.close();
  process.stdout.write(`${JSON.stringify({ mode, mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? "glibc default", samples })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
