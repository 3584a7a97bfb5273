import { Router } from "express";
import { z } from "zod";
import type { Deps } from "../../shared/deps.ts";
import { searchCollection } from "../../shared/use-cases/search.ts";
import { filterSchema } from "../../shared/vector-store/filter.ts";
import { safeText, withSafeJson } from "../middleware/safe-text.ts";
import { validate } from "../middleware/validate.ts";
import { idParam } from "./params.ts";

export const searchBody = z.object({
  query: safeText().trim().min(1).max(8000),
  top_k: z.number().int().min(1).max(100).default(5),
  filter: withSafeJson(filterSchema).optional(),
  score_threshold: z.number().min(-1).max(1).optional(),
});

export function searchRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/collections/:id/search", async (req, res) => {
    const collectionId = idParam(req.params.id, "collection");
    const body = validate(searchBody, req.body);
    const data = await searchCollection(deps, req.tenantId, collectionId, {
      query: body.query,
      topK: body.top_k,
      filter: body.filter,
      scoreThreshold: body.score_threshold,
    });
    res.json({ data });
  });

  return router;
}
