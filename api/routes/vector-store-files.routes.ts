import { Router, type Response } from "express";
import type { Deps } from "../../shared/deps.ts";
import type { StoreRef } from "../../shared/db/vector-stores.repository.ts";
import { presentFileBatch, presentList, presentVectorStoreFile } from "../../shared/openai-compat/presenters.ts";
import { getFile } from "../../shared/use-cases/openai-files.ts";
import {
  attachFile,
  cancelFileBatch,
  createFileBatch,
  detachFile,
  getFileBatch,
  getVectorStoreFile,
  updateAttributes,
} from "../../shared/use-cases/vector-store-files.ts";
import { getActiveVectorStore, getVectorStoreRef } from "../../shared/use-cases/vector-stores.ts";
import { validate } from "../middleware/validate.ts";
import { attachFileBody, chunkingOf, createFileBatchBody, updateVectorStoreFileBody, vectorStoreFileListQuery } from "./openai.schemas.ts";
import { batchIdParam, fileIdParam, vectorStoreIdParam } from "./params.ts";

/** How long the SDK's pollers (`createAndPoll`, `uploadAndPoll`, `poll`) wait before asking again about unfinished work. */
const POLL_AFTER_MS = "500";
/** Chunks a file content page returns at most (`has_more` says when there are more; they are not paged). */
const MAX_CONTENT_CHUNKS = 10_000;

function pacePolling(res: Response, status: string): void {
  if (status === "in_progress") res.set("openai-poll-after-ms", POLL_AFTER_MS);
}

/** OpenAI's vector store files and file batches: `/v1/vector_stores/:id/files` and `/v1/vector_stores/:id/file_batches`. */
export function vectorStoreFilesRoutes(deps: Deps): Router {
  const router = Router();
  const store = (tenantId: string, id: string | string[] | undefined): Promise<StoreRef> => getVectorStoreRef(deps, tenantId, vectorStoreIdParam(id));
  const present = (document: Parameters<typeof presentVectorStoreFile>[0], s: StoreRef) => presentVectorStoreFile(document, s.id, deps.config);

  router.post("/v1/vector_stores/:id/files", async (req, res) => {
    const s = await getActiveVectorStore(deps, req.tenantId, vectorStoreIdParam(req.params.id));
    const body = validate(attachFileBody, req.body);
    const file = await getFile(deps, req.tenantId, body.file_id);
    const { document } = await attachFile(deps, s, file, { fileId: file.id, attributes: body.attributes ?? undefined, chunking: chunkingOf(body.chunking_strategy) });
    const presented = present(document, s);
    pacePolling(res, presented.status);
    res.json(presented);
  });

  router.get("/v1/vector_stores/:id/files", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const query = validate(vectorStoreFileListQuery, req.query);
    const page = await deps.vectorStores.files(s.collection_id, { ...query, status: query.filter });
    res.json(presentList(page.rows.map((d) => present(d, s)), page.hasMore));
  });

  router.get("/v1/vector_stores/:id/files/:fileId", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const presented = present(await getVectorStoreFile(deps, s, fileIdParam(req.params.fileId)), s);
    pacePolling(res, presented.status);
    res.json(presented);
  });

  router.post("/v1/vector_stores/:id/files/:fileId", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const body = validate(updateVectorStoreFileBody, req.body);
    res.json(present(await updateAttributes(deps, s, fileIdParam(req.params.fileId), body.attributes ?? {}), s));
  });

  router.delete("/v1/vector_stores/:id/files/:fileId", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const fileId = fileIdParam(req.params.fileId);
    await detachFile(deps, s, fileId);
    res.json({ id: fileId, object: "vector_store.file.deleted", deleted: true });
  });

  router.get("/v1/vector_stores/:id/files/:fileId/content", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const document = await getVectorStoreFile(deps, s, fileIdParam(req.params.fileId));
    // The chunks as stored (neighbours overlap by the chunking's overlap); none until the file is completed.
    const texts = document.status === "ready" ? await deps.chunks.ofDocument(document.id, 0, MAX_CONTENT_CHUNKS + 1) : [];
    res.json({
      object: "vector_store.file_content.page",
      data: texts.slice(0, MAX_CONTENT_CHUNKS).map((text) => ({ type: "text", text })),
      has_more: texts.length > MAX_CONTENT_CHUNKS,
      next_page: null,
    });
  });

  router.post("/v1/vector_stores/:id/file_batches", async (req, res) => {
    const s = await getActiveVectorStore(deps, req.tenantId, vectorStoreIdParam(req.params.id));
    const body = validate(createFileBatchBody, req.body);
    const shared = { attributes: body.attributes ?? undefined, chunking: chunkingOf(body.chunking_strategy) };
    const inputs = body.files
      ? body.files.map((f) => ({ fileId: f.file_id, attributes: f.attributes ?? shared.attributes, chunking: f.chunking_strategy ? chunkingOf(f.chunking_strategy) : shared.chunking }))
      : [...new Set(body.file_ids)].map((fileId) => ({ fileId, ...shared }));
    const presented = presentFileBatch(await createFileBatch(deps, s, inputs), s.id);
    pacePolling(res, presented.status);
    res.json(presented);
  });

  router.get("/v1/vector_stores/:id/file_batches/:batchId", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const presented = presentFileBatch(await getFileBatch(deps, s, batchIdParam(req.params.batchId)), s.id);
    pacePolling(res, presented.status);
    res.json(presented);
  });

  router.post("/v1/vector_stores/:id/file_batches/:batchId/cancel", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const presented = presentFileBatch(await cancelFileBatch(deps, s, batchIdParam(req.params.batchId)), s.id);
    pacePolling(res, presented.status);
    res.json(presented);
  });

  router.get("/v1/vector_stores/:id/file_batches/:batchId/files", async (req, res) => {
    const s = await store(req.tenantId, req.params.id);
    const batch = await getFileBatch(deps, s, batchIdParam(req.params.batchId));
    const query = validate(vectorStoreFileListQuery, req.query);
    const page = await deps.vectorStores.files(s.collection_id, { ...query, status: query.filter, batchId: batch.id });
    res.json(presentList(page.rows.map((d) => present(d, s)), page.hasMore));
  });

  return router;
}
