/** A parse thread that misbehaves on purpose, to prove the sandbox's limits hold. */
import { parentPort } from "node:worker_threads";
import type { ParseTask } from "../../shared/parsing/sandbox.ts";

parentPort!.on("message", (task: ParseTask) => {
  if (task.mimeType === "hostile/oom") {
    const hoard: number[][] = [];
    for (;;) hoard.push(Array.from({ length: 1_000_000 }, (_, i) => i));
  }
  if (task.mimeType === "hostile/spin") {
    // Blocks the thread's event loop for good, as pdf.js does on some bombs.
    for (;;) Math.sqrt(Math.random());
  }
  if (task.mimeType === "hostile/exit") process.exit(3);
  parentPort!.postMessage({ id: task.id, ok: true, result: { chunks: [{ text: "fine", tokenCount: 1, page: null, heading: null }], pageCount: null } });
});
