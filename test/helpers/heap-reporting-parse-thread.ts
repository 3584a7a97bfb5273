/**
 * The real parse thread, except that each successful answer carries the thread's heap after a full
 * GC in `title` — so a test can watch one warm sandbox thread's heap over many documents.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort } from "node:worker_threads";
import type { ThreadReply } from "../../shared/parsing/sandbox.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const post = parentPort!.postMessage.bind(parentPort!);
parentPort!.postMessage = (reply: ThreadReply) => {
  if ("ok" in reply && reply.ok) {
    gc();
    reply.result.title = String(process.memoryUsage().heapUsed);
  }
  post(reply);
};
await import("../../shared/parsing/parse-thread.ts");
