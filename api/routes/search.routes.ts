import { Router } from "express";
import { z } from "zod";
import type { Deps } from "../../shared/deps.ts";
import { SEARCH_MODES } from "../../shared/retrieval/search-modes.ts";
import { searchCollection } from "../../shared/use-cases/search.ts";
import { filterSchema } from "../../shared/vector-store/filter.ts";
import { safeText, withSafeJson } from "../middleware/safe-text.ts";
import { validate } from "../middleware/validate.ts";
import { idParam } from "./params.ts";

export const searchBody = z.object({
  query: safeText().trim().min(1).max(8000),
  top_k: z.number().int().min(1).max(100).default(5),
  filter: withSafeJson(filterSchema).optional(),
  score_threshold: z.number().min(-1).max(1).optional().describe("minimum cosine similarity; mode vector only"),
  mode: z.enum(SEARCH_MODES).optional().describe("default: keyword for collections of the local embedder, vector otherwise"),
  rerank: z.boolean().optional().describe("default: true when the deployment has a reranker (RERANK_URL)"),
  weights: z
    .object({ vector: z.number().min(0).max(100).optional(), keyword: z.number().min(0).max(100).optional() })
    .strict()
    .optional()
    .describe("hybrid fusion weights (default HYBRID_VECTOR_WEIGHT, HYBRID_KEYWORD_WEIGHT)"),
});

export function searchRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/collections/:id/search", async (req, res) => {
    const collectionId = idParam(req.params.id, "collection");
    const body = validate(searchBody, req.body);
    const found = await searchCollection(deps, req.tenantId, collectionId, {
      query: body.query,
      topK: body.top_k,
      filter: body.filter,
      scoreThreshold: body.score_threshold,
      mode: body.mode,
      rerank: body.rerank,
      weights: body.weights,
    });
    // Where the time went, for the caller's tracing (and the benchmarks): `embed;dur=2.1, vector;dur=4.0, …`.
    res.setHeader("Server-Timing", Object.entries(found.timings).map(([step, ms]) => `${step};dur=${ms.toFixed(1)}`).join(", "));
    res.json({ data: found.data, mode: found.mode, reranked: found.reranked, ...(found.warnings.length > 0 ? { warnings: found.warnings } : {}) });
  });

  return router;
}
