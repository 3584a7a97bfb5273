import { createHash } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { FileRow } from "../db/files.repository.ts";
import { AppError } from "../errors/app-error.ts";
import { newFileId } from "../openai-compat/ids.ts";
import { detectType } from "../parsing/detect-type.ts";
import { listScope, tombstone } from "../db/openai-list.ts";
import { requestCancels } from "./cancel-job.ts";
import { hideIfStillThere } from "./documents.ts";
import { acceptWork } from "./jobs.ts";

export const fileNotFound = (id: string) => new AppError("NOT_FOUND", `No such File object: ${id}`, { httpStatus: 404, details: [{ field: "file_id", message: "not found" }] });

/** Stores a file once; it is parsed per vector store it is attached to. */
export async function uploadFile(
  deps: Deps,
  tenantId: string,
  input: { content: Buffer; filename: string; purpose: string; expiresAfterSeconds?: number },
): Promise<FileRow> {
  return deps.files.insert(
    {
      id: newFileId(),
      tenant_id: tenantId,
      filename: input.filename,
      purpose: input.purpose,
      bytes: input.content.length,
      sha256: createHash("sha256").update(input.content).digest("hex"),
      mime_type: await detectType(input.content, input.filename),
      expires_at: input.expiresAfterSeconds === undefined ? null : new Date(Date.now() + input.expiresAfterSeconds * 1000),
    },
    input.content,
  );
}

export async function getFile(deps: Pick<Deps, "files">, tenantId: string, id: string): Promise<FileRow> {
  const file = await deps.files.get(tenantId, id);
  if (!file) throw fileNotFound(id);
  return file;
}

export async function fileContent(deps: Pick<Deps, "files">, tenantId: string, id: string): Promise<{ file: FileRow; content: Buffer }> {
  const file = await getFile(deps, tenantId, id);
  const content = await deps.files.content(tenantId, id);
  if (!content) throw fileNotFound(id);
  return { file, content };
}

/**
 * Deletes a file and removes it from every vector store it is attached to (as OpenAI's API does),
 * in one transaction: the file row goes first, under a lock that attachments share (none can be
 * recorded after the documents are read), then each attachment's document is hidden and its
 * deletion job recorded, except those already on their way out (a store being deleted removes them).
 * Nothing changes unless all of it can (a store being restored: 409; the queue down: 503).
 * Ingests still reading the file are then asked to stop.
 */
export async function deleteFile(deps: Deps, tenantId: string, id: string): Promise<void> {
  const documentIds = await acceptWork(deps, async (tx) => {
    const file = await tx.files.remove(tenantId, id);
    if (!file) throw fileNotFound(id);
    await tombstone(tx.client, listScope.files(tenantId), [file]);
    const documents = await tx.vectorStores.documentsOfFile(tenantId, id);
    const hidden: string[] = [];
    for (const document of documents) {
      // One already going (deleted, detached, or in a store being deleted) is left to that. The
      // store's lock, held to the commit, keeps a store that is still active from starting to go.
      if (!(await hideIfStillThere(deps, tx, document))) continue;
      await tombstone(tx.client, listScope.vectorStoreFiles(document.collection_id), [{ id, created_at: document.created_at }]);
      hidden.push(document.id);
    }
    return hidden;
  });
  await requestCancels(deps, documentIds, ["ingest_document"], { code: "CANCELLED", message: "its file was deleted" });
}
