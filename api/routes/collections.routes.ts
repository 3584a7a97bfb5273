import { Router } from "express";
import { z } from "zod";
import { acceptCallbackUrl, callbackUrlField } from "../../shared/callbacks/callback-url.ts";
import type { Deps } from "../../shared/deps.ts";
import { presentCollection, presentJob } from "../../shared/presenters.ts";
import { createCollection, getCollection, requestCollectionDeletion } from "../../shared/use-cases/collections.ts";
import { requestReembed } from "../../shared/use-cases/reembed.ts";
import { safeText } from "../middleware/safe-text.ts";
import { validate } from "../middleware/validate.ts";
import { idParam, listQuery } from "./params.ts";

export const embeddingSpec = z.object({
  provider: safeText().min(1).max(50),
  model: safeText().min(1).max(200).optional(),
  dimensions: z.number().int().min(1).max(8192).optional(),
});

export const createBody = z.object({
  name: safeText().trim().min(1).max(200),
  embedding: embeddingSpec.optional(),
});

export const reembedBody = z.object({ embedding: embeddingSpec, callback_url: callbackUrlField });

/** `DELETE /v1/collections/:id?callback_url=…`: a deletion has no body, so its callback comes in the query (other keys are ignored). */
export const deleteCollectionQuery = z.object({ callback_url: callbackUrlField });

export function collectionsRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/collections", async (req, res) => {
    const body = validate(createBody, req.body);
    const row = await createCollection(deps, req.tenantId, body);
    res.status(201).location(`/v1/collections/${row.id}`).json(presentCollection(row));
  });

  router.get("/v1/collections", async (req, res) => {
    const query = validate(listQuery, req.query);
    const { rows, nextCursor } = await deps.collections.list(req.tenantId, query.limit, query.cursor);
    res.json({ data: rows.map(presentCollection), next_cursor: nextCursor });
  });

  router.get("/v1/collections/:id", async (req, res) => {
    res.json(presentCollection(await getCollection(deps, req.tenantId, idParam(req.params.id, "collection"))));
  });

  router.delete("/v1/collections/:id", async (req, res) => {
    const collectionId = idParam(req.params.id, "collection");
    const query = validate(deleteCollectionQuery, req.query);
    const job = await requestCollectionDeletion(deps, req.tenantId, collectionId, await acceptCallbackUrl(deps, query.callback_url));
    res.status(202).location(`/v1/jobs/${job.id}`).json({ job: presentJob(job) });
  });

  router.post("/v1/collections/:id/reembed", async (req, res) => {
    const collectionId = idParam(req.params.id, "collection");
    const body = validate(reembedBody, req.body);
    const job = await requestReembed(deps, req.tenantId, collectionId, body.embedding, await acceptCallbackUrl(deps, body.callback_url));
    res.status(202).location(`/v1/jobs/${job.id}`).json({ job: presentJob(job) });
  });

  return router;
}
