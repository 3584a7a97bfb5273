import type { Request, Response } from "express";
import type { Deps } from "../../shared/deps.ts";
import { notFound } from "../../shared/errors/app-error.ts";
import { presentJob } from "../../shared/presenters.ts";
import { abortOnDisconnect, openEventStream } from "../middleware/sse.ts";

const POLL_MS = 500;
const ENDED = new Set(["succeeded", "failed", "cancelled"]);

/**
 * `GET /v1/jobs/:id/events`: Server-Sent Events with the job's record whenever its status or
 * progress changes (`progress`), then once more when it ends (`end`), then the stream closes. It
 * follows the durable record in Postgres, so it works whichever worker runs the job.
 */
export async function streamJobEvents(deps: Deps, req: Request, res: Response, jobId: string): Promise<void> {
  const first = await deps.jobs.get(req.tenantId, jobId);
  if (!first) throw notFound("job");
  const signal = abortOnDisconnect(res);
  const events = openEventStream(res);
  let last = "";
  let row = first;
  for (;;) {
    const view = presentJob(row);
    const key = `${view.status}:${view.progress}:${view.attempts}`;
    if (ENDED.has(view.status)) {
      events.send("end", view);
      break;
    }
    if (key !== last) events.send("progress", view);
    last = key;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (signal.aborted) return;
    const next = await deps.jobs.get(req.tenantId, jobId);
    if (!next) break;
    row = next;
  }
  events.end();
}
