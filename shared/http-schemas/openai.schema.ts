import { z } from "zod";
import type { presentFile, presentFileBatch, presentList, presentVectorStore, presentVectorStoreFile } from "../openai-compat/presenters.ts";

/**
 * Response schemas of the OpenAI-compatible routes (`/v1/files`, `/v1/vector_stores`): the objects
 * `shared/openai-compat/presenters.ts` builds, in OpenAI's shapes (times are Unix seconds, lists
 * are `{object: "list", data, first_id, last_id, has_more}`), and OpenAI's error body.
 */

/** Times on OpenAI's objects: whole seconds since the Unix epoch. */
export const unixSeconds = z.int().min(0).describe("Unix time, in seconds");

const fileId = z.string().regex(/^file-[0-9a-f]{24}$/);
const vectorStoreId = z.string().regex(/^vs_[0-9a-f]{32}$/);
const fileBatchId = z.string().regex(/^vsfb_[0-9a-f]{32}$/);

/** OpenAI's error body, on every error of these routes. */
export const openAiError = z.object({
  error: z.object({
    message: z.string(),
    type: z.enum(["invalid_request_error", "rate_limit_error", "server_error"]).describe("server_error for a 5xx, rate_limit_error for a 429, invalid_request_error otherwise"),
    param: z.string().nullable().describe("the first request field at fault, when one is"),
    code: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/)
      .describe("Quarry's error code (docs/api.md, Errors) in lower case; `invalid_api_key` for a 401")
      .meta({ examples: ["validation_error", "not_found", "invalid_api_key"] }),
  }),
});

/** An OpenAI list page over `item`. */
export const openAiList = <T extends z.ZodType>(item: T) =>
  z.object({
    object: z.literal("list"),
    data: z.array(item),
    first_id: z.string().nullable().describe("the first object's id (null for an empty page): pass as `before` for the previous page"),
    last_id: z.string().nullable().describe("the last object's id (null for an empty page): pass as `after` for the next page"),
    has_more: z.boolean(),
  });

export const openAiFile = z.object({
  id: fileId,
  object: z.literal("file"),
  bytes: z.int().min(0),
  created_at: unixSeconds,
  expires_at: unixSeconds.nullable().describe("set by `expires_after` at upload; the file is gone after it"),
  filename: z.string(),
  purpose: z.string().describe("as uploaded: assistants, batch, fine-tune, vision, user_data or evals"),
  status: z.literal("processed").describe("stored and ready to attach as soon as the upload answers; it is parsed per vector store"),
});

export const openAiFileDeleted = z.object({ id: fileId, object: z.literal("file"), deleted: z.literal(true) });

export const fileCounts = z.object({
  in_progress: z.int().min(0),
  completed: z.int().min(0),
  failed: z.int().min(0),
  cancelled: z.int().min(0),
  total: z.int().min(0),
});

export const vectorStore = z.object({
  id: vectorStoreId,
  object: z.literal("vector_store"),
  created_at: unixSeconds,
  name: z.string(),
  description: z.string().nullable(),
  usage_bytes: z.int().min(0).describe("the completed files' bytes"),
  file_counts: fileCounts,
  status: z.enum(["expired", "in_progress", "completed"]),
  expires_after: z.object({ anchor: z.literal("last_active_at"), days: z.int().min(1).max(365) }).nullable(),
  expires_at: unixSeconds.nullable(),
  last_active_at: unixSeconds,
  metadata: z.record(z.string(), z.string()),
});

export const vectorStoreDeleted = z.object({ id: vectorStoreId, object: z.literal("vector_store.deleted"), deleted: z.literal(true) });

/** A vector store file's attributes: up to 16, strings (of at most 512 characters), numbers and booleans. */
const attributes = z.record(z.string().max(64), z.union([z.string().max(512), z.number(), z.boolean()]));

export const vectorStoreFile = z.object({
  id: fileId.describe("the file's id"),
  object: z.literal("vector_store.file"),
  created_at: unixSeconds,
  vector_store_id: vectorStoreId,
  status: z.enum(["in_progress", "completed", "failed", "cancelled"]),
  usage_bytes: z.int().min(0).describe("the file's bytes once completed, else 0"),
  last_error: z
    .object({
      code: z.enum(["unsupported_file", "invalid_file", "server_error"]),
      message: z.string().describe("Quarry's own error code, a colon, then its message (`NO_TEXT: …`)"),
    })
    .nullable()
    .describe("why it failed; null unless failed"),
  attributes,
  chunking_strategy: z
    .object({
      type: z.literal("static"),
      static: z.object({ max_chunk_size_tokens: z.int().min(1), chunk_overlap_tokens: z.int().min(0) }),
    })
    .describe("always static, with the numbers used (`auto` is the deployment's CHUNK_SIZE and CHUNK_OVERLAP)"),
});

export const vectorStoreFileDeleted = z.object({ id: fileId, object: z.literal("vector_store.file.deleted"), deleted: z.literal(true) });

const textContent = z.object({ type: z.literal("text"), text: z.string() });

export const vectorStoreFileContent = z.object({
  object: z.literal("vector_store.file_content.page"),
  data: z.array(textContent).describe("the file's chunks as stored (neighbours overlap); none until the file is completed"),
  has_more: z.literal(false),
  next_page: z.null(),
});

export const vectorStoreFileBatch = z.object({
  id: fileBatchId,
  object: z.literal("vector_store.files_batch"),
  created_at: unixSeconds,
  vector_store_id: vectorStoreId,
  status: z.enum(["in_progress", "completed", "cancelled", "failed"]).describe("a cancelled batch stays in_progress until its files have stopped"),
  file_counts: fileCounts,
});

export const vectorStoreSearchResult = z.object({
  file_id: fileId,
  filename: z.string(),
  score: z.number().min(0).max(1).describe("cosine similarity clamped to 0–1, or the reranker's relevance when reranked"),
  attributes,
  content: z.array(textContent),
});

export const vectorStoreSearchResults = z.object({
  object: z.literal("vector_store.search_results.page"),
  search_query: z.array(z.string()).describe("the queries searched, as given"),
  data: z.array(vectorStoreSearchResult).describe("best first"),
  has_more: z.literal(false),
  next_page: z.null(),
});

/*
 * Compile-time check that each presenter returns exactly the fields of its schema, with types the
 * schema accepts (the contract test checks real answers at run time). A document's metadata is
 * `Record<string, unknown>` to the type system; as a vector store file's attributes it is only
 * ever written from the validated `attributes` of a request, so it is checked as those.
 * `presentVectorStore`'s `status` is typed `string` (its literals widen in the object it returns),
 * so it is checked as the schema's enum.
 */
type Fits<Shown, Schema extends z.ZodType> = [Shown] extends [z.output<Schema>] ? ([Exclude<keyof Shown, keyof z.output<Schema>>] extends [never] ? true : false) : false;
type Assert<T extends true> = T;
type WithAttributes<T> = Omit<T, "attributes"> & { attributes: z.output<typeof attributes> };
type WithStoreStatus<T> = Omit<T, "status"> & { status: z.output<typeof vectorStore>["status"] };
export type PresentersFitTheirSchemas = [
  Assert<Fits<ReturnType<typeof presentFile>, typeof openAiFile>>,
  Assert<Fits<WithStoreStatus<ReturnType<typeof presentVectorStore>>, typeof vectorStore>>,
  Assert<Fits<WithAttributes<ReturnType<typeof presentVectorStoreFile>>, typeof vectorStoreFile>>,
  Assert<Fits<ReturnType<typeof presentFileBatch>, typeof vectorStoreFileBatch>>,
  Assert<Fits<ReturnType<typeof presentList<ReturnType<typeof presentFile>>>, ReturnType<typeof openAiList<typeof openAiFile>>>>,
];
