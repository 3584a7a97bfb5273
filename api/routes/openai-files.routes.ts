import { createHash } from "node:crypto";
import { Router } from "express";
import type { Deps } from "../../shared/deps.ts";
import { validationError } from "../../shared/errors/app-error.ts";
import { presentFile, presentList } from "../../shared/openai-compat/presenters.ts";
import { deleteFile, fileContent, getFile, uploadFile } from "../../shared/use-cases/openai-files.ts";
import { claimIdempotency } from "../middleware/idempotency.ts";
import { readMultipart } from "../middleware/multipart.ts";
import { unsafeTextReason } from "../middleware/safe-text.ts";
import { validate } from "../middleware/validate.ts";
import { fileListQuery, fileUploadFields } from "./openai.schemas.ts";
import { fileIdParam } from "./params.ts";

/** OpenAI's Files API: `/v1/files`. Files are stored once and parsed per vector store they are attached to. */
export function openAiFilesRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/files", async (req, res) => {
    if (!req.is("multipart/form-data")) {
      throw validationError("send multipart/form-data with a `file` part and a `purpose` field", [{ field: "file", message: "required" }]);
    }
    const { file, fields } = await readMultipart(req, deps.config.MAX_FILE_SIZE);
    const form = validate(fileUploadFields, fields);
    if (!file) throw validationError("file: a multipart upload needs a `file` part", [{ field: "file", message: "required" }]);
    if (file.content.length === 0) throw validationError("file: the file is empty", [{ field: "file", message: "empty" }]);
    const filename = file.filename.slice(0, 255);
    const unsafe = unsafeTextReason(filename);
    if (unsafe) throw validationError(`file: the file name ${unsafe}`, [{ field: "file", message: "bad file name" }]);
    const fingerprint = { filename, purpose: form.purpose, sha256: createHash("sha256").update(file.content).digest("hex"), expires_after: form["expires_after[seconds]"] ?? null };
    if (!(await claimIdempotency(deps, req, res, fingerprint, req.tenantId))) return;
    const stored = await uploadFile(deps, req.tenantId, { content: file.content, filename, purpose: form.purpose, expiresAfterSeconds: form["expires_after[seconds]"] });
    res.status(200).json(presentFile(stored));
  });

  router.get("/v1/files", async (req, res) => {
    const query = validate(fileListQuery, req.query);
    const page = await deps.files.list(req.tenantId, query);
    res.json(presentList(page.rows.map(presentFile), page.hasMore));
  });

  router.get("/v1/files/:id", async (req, res) => {
    res.json(presentFile(await getFile(deps, req.tenantId, fileIdParam(req.params.id))));
  });

  router.get("/v1/files/:id/content", async (req, res) => {
    const { file, content } = await fileContent(deps, req.tenantId, fileIdParam(req.params.id));
    res.type(file.mime_type ?? "application/octet-stream").attachment(file.filename).send(content);
  });

  router.delete("/v1/files/:id", async (req, res) => {
    const id = fileIdParam(req.params.id);
    await deleteFile(deps, req.tenantId, id);
    res.json({ id, object: "file", deleted: true });
  });

  return router;
}
