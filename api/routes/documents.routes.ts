import { createHash } from "node:crypto";
import { Router, type Request, type Response } from "express";
import { z } from "zod";
import { acceptCallbackUrl, callbackUrlField } from "../../shared/callbacks/callback-url.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError, validationError } from "../../shared/errors/app-error.ts";
import { MIME, detectType } from "../../shared/parsing/detect-type.ts";
import { presentDocument, presentJob } from "../../shared/presenters.ts";
import { getCollection } from "../../shared/use-cases/collections.ts";
import { acceptDocument, acceptUrlDocument, getDocument, requestDocumentDeletion, type AcceptResult, type DocumentInput } from "../../shared/use-cases/documents.ts";
import { claimIdempotency } from "../middleware/idempotency.ts";
import { hasBody } from "../middleware/json-body.ts";
import { readMultipart } from "../middleware/multipart.ts";
import { metadataSchema, safeText, withSafeText } from "../middleware/safe-text.ts";
import { validate } from "../middleware/validate.ts";
import { idParam, listQuery } from "./params.ts";

export const documentFields = z.object({
  title: safeText().trim().min(1).max(500).optional(),
  metadata: metadataSchema.optional(),
  external_id: safeText().min(1).max(200).optional(),
  callback_url: withSafeText(z.url({ protocol: /^https?$/ }).max(2000)).optional(),
});

export const textBody = documentFields.extend({ text: z.string().min(1, "text must not be empty") });

/** `{url, …}`: a worker fetches the document through the outbound guard. */
export const urlBody = documentFields.extend({
  url: withSafeText(z.url({ protocol: /^https?$/ }).refine((u) => Buffer.byteLength(u) <= 2000, "at most 2000 bytes (UTF-8)")).describe(
    "http or https, at most 2000 bytes; fetched by a worker through the outbound guard",
  ),
  refresh: z.boolean().optional().describe("the collection already holds this URL: fetch it again, and re-ingest it if its content changed"),
});

/** A JSON body names a URL: `{url}` ingestion (a body with both `text` and `url` is refused). */
function isUrlBody(req: Request): boolean {
  if (!req.is("application/json") || typeof req.body !== "object" || req.body === null || !("url" in req.body)) return false;
  if ("text" in req.body) {
    throw validationError("send either `text` or `url`, not both", [{ field: "url", message: "not with text" }]);
  }
  return true;
}

export const listDocumentsQuery = listQuery.extend({
  status: z.enum(["queued", "processing", "ready", "failed"]).optional(),
});

/** `DELETE /v1/documents/:id?callback_url=…`: a deletion has no body, so its callback comes in the query (other keys are ignored). */
export const deleteDocumentQuery = z.object({ callback_url: callbackUrlField });

function parseMetadataField(raw: string | undefined): unknown {
  if (raw === undefined || raw === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw validationError("metadata: must be a JSON object", [{ field: "metadata", message: "not valid JSON" }]);
  }
}

/** A document from either body type: multipart (`file` + fields) or JSON `{text, …}`. */
async function documentInput(req: Request, maxFileSize: number): Promise<DocumentInput> {
  if (req.is("multipart/form-data")) {
    const { file, fields } = await readMultipart(req, maxFileSize);
    if (!file) throw validationError("file: a multipart upload needs a `file` part", [{ field: "file", message: "required" }]);
    if (file.content.length === 0) throw validationError("file: the file is empty", [{ field: "file", message: "empty" }]);
    const meta = validate(documentFields, { ...fields, metadata: parseMetadataField(fields.metadata) });
    return {
      content: file.content,
      mimeType: await detectType(file.content, file.filename),
      title: meta.title ?? null,
      metadata: meta.metadata,
      externalId: meta.external_id,
      callbackUrl: meta.callback_url,
    };
  }
  if (req.is("application/json")) {
    const body = validate(textBody, req.body);
    const content = Buffer.from(body.text, "utf8");
    if (content.length > maxFileSize) throw new AppError("PAYLOAD_TOO_LARGE", `documents are limited to ${maxFileSize} bytes (MAX_FILE_SIZE)`, { httpStatus: 413 });
    return { content, mimeType: MIME.text, title: body.title, metadata: body.metadata, externalId: body.external_id, callbackUrl: body.callback_url };
  }
  if (!hasBody(req)) throw validationError("the request has no body: send multipart/form-data with a `file` part, or JSON {text, title?, metadata?} or {url, title?, metadata?}", [{ field: "(body)", message: "required" }]);
  throw new AppError("UNSUPPORTED_MEDIA_TYPE", "send multipart/form-data with a `file` part, or JSON {text, title?, metadata?} or {url, title?, metadata?}", { httpStatus: 415 });
}

/** 202 with the job that was queued (a new document, or a refresh of a URL document); 200 with the existing document. */
function answerAccepted(res: Response, accepted: AcceptResult): void {
  const payload = { document: presentDocument(accepted.document), job: accepted.job ? presentJob(accepted.job) : null };
  if (accepted.created || accepted.refreshed) res.status(202).location(`/v1/jobs/${accepted.job.id}`).json(payload);
  else res.status(200).location(`/v1/documents/${accepted.document.id}`).json(payload);
}

export function documentsRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/collections/:id/documents", async (req, res) => {
    const collectionId = idParam(req.params.id, "collection");
    await getCollection(deps, req.tenantId, collectionId); // 404 before reading a large body
    if (isUrlBody(req)) {
      const body = validate(urlBody, req.body);
      const callbackUrl = await acceptCallbackUrl(deps, body.callback_url);
      const accepted = await acceptUrlDocument(deps, req.tenantId, collectionId, {
        url: body.url,
        title: body.title,
        metadata: body.metadata,
        externalId: body.external_id,
        callbackUrl,
        refresh: body.refresh,
      });
      return void answerAccepted(res, accepted);
    }
    const input = await documentInput(req, deps.config.MAX_FILE_SIZE);
    // A multipart upload's key is claimed once the form is read: its body is the file's hash and the fields.
    if (req.is("multipart/form-data")) {
      const form = { sha256: createHash("sha256").update(input.content).digest("hex"), title: input.title, metadata: input.metadata, external_id: input.externalId, callback_url: input.callbackUrl };
      if (!(await claimIdempotency(deps, req, res, form, req.tenantId))) return;
    }
    input.callbackUrl = await acceptCallbackUrl(deps, input.callbackUrl);
    answerAccepted(res, await acceptDocument(deps, req.tenantId, collectionId, input));
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
    const documentId = idParam(req.params.id, "document");
    const query = validate(deleteDocumentQuery, req.query);
    const job = await requestDocumentDeletion(deps, req.tenantId, documentId, await acceptCallbackUrl(deps, query.callback_url));
    res.status(202).location(`/v1/jobs/${job.id}`).json({ job: presentJob(job) });
  });

  return router;
}
