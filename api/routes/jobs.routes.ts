import { Router } from "express";
import { z } from "zod";
import type { Deps } from "../../shared/deps.ts";
import { notFound } from "../../shared/errors/app-error.ts";
import { presentJob } from "../../shared/presenters.ts";
import { DURABLE_JOB_NAMES } from "../../shared/jobs/index.ts";
import { cancelJob } from "../../shared/use-cases/cancel-job.ts";
import { retryJob } from "../../shared/use-cases/retry-job.ts";
import { streamJobEvents } from "./job-events.ts";
import { validate } from "../middleware/validate.ts";
import { idParam, listQuery } from "./params.ts";

export const listJobsQuery = listQuery.extend({
  type: z.enum(DURABLE_JOB_NAMES as [string, ...string[]]).optional(),
  status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]).optional(),
});

/** Job status comes from Postgres, so it outlives BullMQ's clean-up and a Redis loss. */
export function jobsRoutes(deps: Deps): Router {
  const router = Router();

  router.get("/v1/jobs", async (req, res) => {
    const query = validate(listJobsQuery, req.query);
    const { rows, nextCursor } = await deps.jobs.list(req.tenantId, query);
    res.json({ data: rows.map(presentJob), next_cursor: nextCursor });
  });

  router.get("/v1/jobs/:id", async (req, res) => {
    const job = await deps.jobs.get(req.tenantId, idParam(req.params.id, "job"));
    if (!job) throw notFound("job");
    if (!job.callback_url) return void res.json(presentJob(job));
    const { rows } = await deps.db.query<{ at: Date; run: number; status_code: number | null; error: string | null; outcome: string; duration_ms: number }>(
      `SELECT at, run, status_code, error, outcome, duration_ms FROM callback_attempts WHERE job_id = $1 ORDER BY id DESC LIMIT 50`,
      [job.id],
    );
    const attempts = rows.reverse().map((a) => ({ at: a.at.toISOString(), run: a.run, status_code: a.status_code, error: a.error, outcome: a.outcome, duration_ms: a.duration_ms }));
    res.json({ ...presentJob(job), callback: { url: job.callback_url, attempts } });
  });

  router.get("/v1/jobs/:id/events", async (req, res) => {
    await streamJobEvents(deps, req, res, idParam(req.params.id, "job"));
  });

  router.post("/v1/jobs/:id/cancel", async (req, res) => {
    const outcome = await cancelJob(deps, req.tenantId, idParam(req.params.id, "job"));
    // Ended now (it had not started): 200. Running: the worker holding it stops at its next boundary.
    if (outcome.ended) return void res.json({ job: presentJob(outcome.job) });
    res.status(202).location(`/v1/jobs/${outcome.job.id}`).json({ job: presentJob(outcome.job) });
  });

  router.post("/v1/jobs/:id/retry", async (req, res) => {
    const job = await retryJob(deps, req.tenantId, idParam(req.params.id, "job"));
    res.status(202).location(`/v1/jobs/${job.id}`).json({ job: presentJob(job) });
  });

  return router;
}
