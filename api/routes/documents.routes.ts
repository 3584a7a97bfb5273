import { Router } from "express";
import { z } from "zod";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import { presentDocument, presentJob } from "../../shared/presenters.ts";
import { getCollection } from "../../shared/use-cases/collections.ts";
import { acceptDocument, getDocument, requestDocumentDeletion } from "../../shared/use-cases/documents.ts";
import { validate } from "../middleware/validate.ts";
import { idParam, listQuery } from "./params.ts";

export const documentFields = {
  title: z.string().trim().min(1).max(500).optional(),
  metadata: z.record(z.string().max(64), z.unknown()).optional(),
  external_id: z.string().min(1).max(200).optional(),
  callback_url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
};

const textBody = z.object({ text: z.string().min(1, "text must not be empty"), ...documentFields });

const listDocumentsQuery = listQuery.extend({
  status: z.enum(["queued", "processing", "ready", "failed"]).optional(),
});

export function documentsRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/collections/:id/documents", async (req, res) => {
    const collectionId = idParam(req.params.id, "collection");
    if (!req.is("application/json")) {
      throw new AppError("UNSUPPORTED_MEDIA_TYPE", "send JSON {text, title?, metadata?}", { httpStatus: 415 });
    }
    const body = validate(textBody, req.body);
    const content = Buffer.from(body.text, "utf8");
    if (content.length > deps.config.MAX_FILE_SIZE) {
      throw new AppError("PAYLOAD_TOO_LARGE", `documents are limited to ${deps.config.MAX_FILE_SIZE} bytes`, { httpStatus: 413 });
    }
    const accepted = await acceptDocument(deps, req.tenantId, collectionId, {
      content,
      mimeType: "text/plain",
      title: body.title,
      metadata: body.metadata,
      externalId: body.external_id,
      callbackUrl: body.callback_url,
    });
    const payload = { document: presentDocument(accepted.document), job: accepted.job ? presentJob(accepted.job) : null };
    if (!accepted.created) return void res.status(200).location(`/v1/documents/${accepted.document.id}`).json(payload);
    res.status(202).location(`/v1/jobs/${accepted.job.id}`).json(payload);
  });

  router.get("/v1/collections/:id/documents", async (req, res) => {
    const collection = await getCollection(deps, req.tenantId, idParam(req.params.id, "collection"));
    const query = validate(listDocumentsQuery, req.query);
    const { rows, nextCursor } = await deps.documents.list(collection.id, query);
    res.json({ data: rows.map(presentDocument), next_cursor: nextCursor });
  });

  router.get("/v1/documents/:id", async (req, res) => {
    res.json(presentDocument(await getDocument(deps, req.tenantId, idParam(req.params.id, "document"))));
  });

  router.delete("/v1/documents/:id", async (req, res) => {
    const job = await requestDocumentDeletion(deps, req.tenantId, idParam(req.params.id, "document"));
    res.status(202).location(`/v1/jobs/${job.id}`).json({ job: presentJob(job) });
  });

  return router;
}
