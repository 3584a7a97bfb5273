import { Router } from "express";
import { z } from "zod";
import { acceptCallbackUrl, callbackUrlField } from "../../shared/callbacks/callback-url.ts";
import type { Deps } from "../../shared/deps.ts";
import { presentJob, presentRun, presentWorkflow } from "../../shared/presenters.ts";
import { workflowSigningSecret } from "../../shared/workflows/signing-secret.ts";
import { workflowBody } from "../../shared/workflows/workflow-definition.ts";
import { createWorkflow, deleteWorkflow, getRun, getWorkflow, listRuns, startRun, updateWorkflow } from "../../shared/use-cases/workflows.ts";
import { withSafeJson } from "../middleware/safe-text.ts";
import { validate } from "../middleware/validate.ts";
import { idParam, listQuery } from "./params.ts";

/** Anything JSON that Postgres can store; the workflow's own rules are checked after (400 INVALID_WORKFLOW, with JSON paths). */
const storableJson = withSafeJson(z.unknown());

export const runBody = z.strictObject({
  input: withSafeJson(z.unknown()).default({}).describe("the run's input, read by {{input…}} references; checked against the workflow's input_schema"),
  callback_url: callbackUrlField,
});

export const workflowQuery = z.object({ version: z.coerce.number().int().min(1).max(1_000_000).optional() });

/** The body a workflow is defined with (published in the OpenAPI description). */
export { workflowBody };

export function workflowsRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/workflows", async (req, res) => {
    const row = await createWorkflow(deps, req.tenantId, validate(storableJson, req.body));
    res.status(201).location(`/v1/workflows/${row.id}`).json(presentWorkflow(row));
  });

  router.get("/v1/workflows", async (req, res) => {
    const query = validate(listQuery, req.query);
    const { rows, nextCursor } = await deps.workflows.list(req.tenantId, query.limit, query.cursor);
    res.json({ data: rows.map(presentWorkflow), next_cursor: nextCursor });
  });

  // Before /v1/workflows/:id, which would take "signing-secret" for an id.
  router.get("/v1/workflows/signing-secret", (req, res) => {
    const secret = deps.config.WEBHOOK_SECRET ? workflowSigningSecret(deps.config.WEBHOOK_SECRET, req.tenantId) : null;
    res.json({ secret });
  });

  router.get("/v1/workflows/:id", async (req, res) => {
    const { version } = validate(workflowQuery, req.query);
    res.json(presentWorkflow(await getWorkflow(deps, req.tenantId, idParam(req.params.id, "workflow"), version)));
  });

  router.put("/v1/workflows/:id", async (req, res) => {
    const id = idParam(req.params.id, "workflow");
    res.json(presentWorkflow(await updateWorkflow(deps, req.tenantId, id, validate(storableJson, req.body))));
  });

  router.delete("/v1/workflows/:id", async (req, res) => {
    await deleteWorkflow(deps, req.tenantId, idParam(req.params.id, "workflow"));
    res.status(204).end();
  });

  router.post("/v1/workflows/:id/runs", async (req, res) => {
    const id = idParam(req.params.id, "workflow");
    const body = validate(runBody, req.body ?? {});
    const { run, job } = await startRun(deps, req.tenantId, id, { input: body.input, callbackUrl: await acceptCallbackUrl(deps, body.callback_url) });
    res.status(202).location(`/v1/jobs/${job.id}`).json({ run: presentRun(run, job, undefined, true), job: presentJob(job) });
  });

  router.get("/v1/workflows/:id/runs", async (req, res) => {
    const query = validate(listQuery, req.query);
    const { runs, nextCursor } = await listRuns(deps, req.tenantId, idParam(req.params.id, "workflow"), query.limit, query.cursor);
    res.json({ data: runs.map(({ run, job }) => presentRun(run, job)), next_cursor: nextCursor });
  });

  router.get("/v1/workflow-runs/:id", async (req, res) => {
    const { run, job, steps, definition } = await getRun(deps, req.tenantId, idParam(req.params.id, "workflow run"));
    res.json(presentRun(run, job, { steps, definition }));
  });

  return router;
}
