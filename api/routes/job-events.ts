import type { Request, Response } from "express";
import type { Deps } from "../../shared/deps.ts";
import { notFound } from "../../shared/errors/app-error.ts";
import { presentJob } from "../../shared/presenters.ts";
import { abortOnDisconnect, openEventStream } from "../middleware/sse.ts";

const POLL_MS = 500;
const HEARTBEAT_MS = 15_000;
/** A stream ends after this long even if the job has not (clients reconnect); shutdowns never wait longer. */
const MAX_STREAM_MS = 10 * 60_000;
const ENDED = new Set(["succeeded", "failed", "cancelled"]);

/**
 * `GET /v1/jobs/:id/events`: Server-Sent Events with the job's record whenever its status or
 * progress changes (`progress`), then once more when it ends (`end`), then the stream closes. It
 * follows the durable record in Postgres, so it works whichever worker runs the job. A comment line
 * every 15 s keeps proxies from dropping a quiet stream; after 10 minutes it closes with `timeout`.
 */
export async function streamJobEvents(deps: Deps, req: Request, res: Response, jobId: string): Promise<void> {
  const first = await deps.jobs.get(req.tenantId, jobId);
  if (!first) throw notFound("job");
  const signal = abortOnDisconnect(res);
  const events = openEventStream(res);
  const started = Date.now();
  let lastBeat = started;
  let last = "";
  let row = first;
  try {
    for (;;) {
      const view = presentJob(row);
      if (ENDED.has(view.status)) {
        events.send("end", view);
        return;
      }
      const key = `${view.status}:${view.progress}:${view.attempts}`;
      if (key !== last) events.send("progress", view);
      last = key;
      if (Date.now() - started > MAX_STREAM_MS) {
        events.send("timeout", { message: "the job is still running; reconnect to keep following it" });
        return;
      }
      if (Date.now() - lastBeat > HEARTBEAT_MS) {
        res.write(": keep-alive\n\n");
        lastBeat = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (signal.aborted) return;
      const next = await deps.jobs.get(req.tenantId, jobId);
      if (!next) return;
      row = next;
    }
  } catch (err) {
    req.log.error({ err, jobId }, "job event stream failed");
    events.send("error", { error: { code: "INTERNAL", message: "the job could not be followed; poll GET /v1/jobs/:id" } });
  } finally {
    events.end();
  }
}
