/** A parse thread that misbehaves on purpose, to prove the sandbox's limits hold. */
import { parentPort, workerData } from "node:worker_threads";

const { mimeType } = workerData as { mimeType: string };

parentPort!.once("message", () => {
  if (mimeType === "hostile/oom") {
    const hoard: number[][] = [];
    for (;;) hoard.push(Array.from({ length: 1_000_000 }, (_, i) => i));
  }
  if (mimeType === "hostile/spin") {
    // Blocks the thread's event loop for good, as pdf.js does on some bombs.
    for (;;) Math.sqrt(Math.random());
  }
  if (mimeType === "hostile/exit") process.exit(3);
});
