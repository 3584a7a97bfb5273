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
 * `GET /v1/jobs/:id/events`: Server-Sent Events from the job's event log in Postgres — the same
 * record the job's end is written to (shared/jobs/end-job.ts) — so it works whichever process
 * runs the job. First the job as it is now (`progress`, or `end` if it has ended), then each
 * `progress` and finally `end`, each with an `id:`; a client that reconnects with `Last-Event-ID`
 * gets what it missed. A comment line every 15 s keeps proxies from dropping a quiet stream; after
 * 10 minutes it closes with `timeout`.
 */
export async function streamJobEvents(deps: Deps, req: Request, res: Response, jobId: string): Promise<void> {
  // The log's position first, then the row: an event written in between is sent again, never lost.
  const seen = await deps.jobs.latestEventId(jobId);
  const first = await deps.jobs.get(req.tenantId, jobId);
  if (!first) throw notFound("job");
  const resumeFrom = Number(req.get("last-event-id"));
  let lastId = Number.isSafeInteger(resumeFrom) && resumeFrom > 0 ? resumeFrom : 0;
  const signal = abortOnDisconnect(res);
  const events = openEventStream(res);
  const started = Date.now();
  let lastBeat = started;
  try {
    if (lastId === 0) {
      // The snapshot: events before now are summed up by the row itself.
      lastId = seen;
      const view = presentJob(first);
      events.send(ENDED.has(view.status) ? "end" : "progress", view, lastId || undefined);
      if (ENDED.has(view.status)) return;
    }
    for (;;) {
      const fresh = await deps.jobs.eventsAfter(jobId, lastId);
      for (const event of fresh) {
        lastId = event.id;
        events.send(event.type, event.job, event.id);
        if (event.type === "end") return;
      }
      if (fresh.length === 0) {
        // Log ids can commit out of order: an `end` numbered below one already sent would never
        // come. The row says whether the job has ended.
        const row = await deps.jobs.get(req.tenantId, jobId);
        if (!row || ENDED.has(row.status)) {
          if (row) events.send("end", presentJob(row), lastId || undefined);
          return;
        }
      }
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
    }
  } catch (err) {
    req.log.warn({ err, jobId }, "job event stream failed");
    events.send("error", { error: { code: "INTERNAL", message: "the job could not be followed; poll GET /v1/jobs/:id" } });
  } finally {
    events.end();
  }
}
