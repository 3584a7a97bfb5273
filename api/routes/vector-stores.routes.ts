import { Router } from "express";
import type { Deps } from "../../shared/deps.ts";
import { presentList, presentVectorStore } from "../../shared/openai-compat/presenters.ts";
import { createVectorStore, deleteVectorStore, getVectorStore, searchVectorStore, updateVectorStore } from "../../shared/use-cases/vector-stores.ts";
import { validate } from "../middleware/validate.ts";
import { chunkingOf, createVectorStoreBody, listQuery, searchBody, updateVectorStoreBody } from "./openai.schemas.ts";
import { vectorStoreIdParam } from "./params.ts";

/** OpenAI's Vector Stores API over collections: `/v1/vector_stores` and its search. */
export function vectorStoresRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/vector_stores", async (req, res) => {
    const body = validate(createVectorStoreBody, req.body);
    const chunking = chunkingOf(body.chunking_strategy);
    const store = await createVectorStore(deps, req.tenantId, {
      name: body.name,
      description: body.description,
      metadata: body.metadata ?? undefined,
      expiresAfterDays: body.expires_after?.days,
      files: [...new Set(body.file_ids ?? [])].map((fileId) => ({ fileId, chunking })),
    });
    res.json(presentVectorStore(store));
  });

  router.get("/v1/vector_stores", async (req, res) => {
    const query = validate(listQuery, req.query);
    const page = await deps.vectorStores.list(req.tenantId, query);
    res.json(presentList(page.rows.map((s) => presentVectorStore(s)), page.hasMore));
  });

  router.get("/v1/vector_stores/:id", async (req, res) => {
    res.json(presentVectorStore(await getVectorStore(deps, req.tenantId, vectorStoreIdParam(req.params.id))));
  });

  router.post("/v1/vector_stores/:id", async (req, res) => {
    const id = vectorStoreIdParam(req.params.id);
    const body = validate(updateVectorStoreBody, req.body);
    const store = await updateVectorStore(deps, req.tenantId, id, {
      ...(body.name !== undefined ? { name: body.name ?? "" } : {}),
      ...(body.metadata !== undefined ? { metadata: body.metadata ?? {} } : {}),
      ...(body.expires_after !== undefined ? { expiresAfterDays: body.expires_after?.days ?? null } : {}),
    });
    res.json(presentVectorStore(store));
  });

  router.delete("/v1/vector_stores/:id", async (req, res) => {
    const id = vectorStoreIdParam(req.params.id);
    await deleteVectorStore(deps, req.tenantId, id);
    res.json({ id, object: "vector_store.deleted", deleted: true });
  });

  router.post("/v1/vector_stores/:id/search", async (req, res) => {
    const id = vectorStoreIdParam(req.params.id);
    const body = validate(searchBody, req.body);
    const queries = typeof body.query === "string" ? [body.query] : body.query;
    const hits = await searchVectorStore(deps, req.tenantId, id, {
      queries,
      filter: body.filters,
      maxResults: body.max_num_results,
      scoreThreshold: body.ranking_options?.score_threshold,
      ranker: body.ranking_options?.ranker ?? "auto",
    });
    res.json({
      object: "vector_store.search_results.page",
      search_query: queries,
      data: hits.map((h) => ({ file_id: h.file_id, filename: h.filename, score: h.score, attributes: h.attributes, content: [{ type: "text", text: h.text }] })),
      has_more: false,
      next_page: null,
    });
  });

  return router;
}
