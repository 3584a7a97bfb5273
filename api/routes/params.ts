import { z } from "zod";
import { notFound } from "../../shared/errors/app-error.ts";
import { isFileBatchId, isFileId, isVectorStoreId } from "../../shared/openai-compat/ids.ts";
import { fileNotFound } from "../../shared/use-cases/openai-files.ts";
import { fileBatchNotFound } from "../../shared/use-cases/vector-store-files.ts";
import { vectorStoreNotFound } from "../../shared/use-cases/vector-stores.ts";

const uuid = z.uuid();

/** A path id that is not a uuid cannot name anything: 404, like another tenant's id. */
export function idParam(value: string | string[] | undefined, what: string): string {
  const parsed = uuid.safeParse(value);
  if (!parsed.success) throw notFound(what);
  return parsed.data.toLowerCase();
}

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** OpenAI-style path ids (`file-…`, `vs_…`, `vsfb_…`): one that cannot name an object is a 404 without a lookup. */
export function fileIdParam(value: string | string[] | undefined): string {
  if (!isFileId(value)) throw fileNotFound(String(value));
  return value;
}

export function vectorStoreIdParam(value: string | string[] | undefined): string {
  if (!isVectorStoreId(value)) throw vectorStoreNotFound(String(value));
  return value;
}

export function batchIdParam(value: string | string[] | undefined): string {
  if (!isFileBatchId(value)) throw fileBatchNotFound(String(value));
  return value;
}
