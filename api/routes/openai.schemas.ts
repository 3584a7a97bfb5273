import { z } from "zod";
import { attributeFilter } from "../../shared/openai-compat/filters.ts";
import { safeText } from "../middleware/safe-text.ts";

/** Request schemas of the OpenAI-compatible routes, with OpenAI's limits. */

export const filePurpose = z.enum(["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]);

/** The multipart fields beside `file`; `expires_after` arrives as `expires_after[anchor]` and `expires_after[seconds]`. */
export const fileUploadFields = z.object({
  purpose: filePurpose,
  "expires_after[anchor]": z.literal("created_at").optional(),
  "expires_after[seconds]": z.coerce.number().int().min(3600).max(2_592_000).optional(),
});

const objectId = safeText().min(1).max(100);

const order = z.enum(["asc", "desc"]).default("desc");

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order,
  after: objectId.optional(),
  before: objectId.optional(),
});

export const fileListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  order,
  after: objectId.optional(),
  purpose: safeText().max(50).optional(),
});

export const vectorStoreFileListQuery = listQuery.extend({ filter: z.enum(["in_progress", "completed", "failed", "cancelled"]).optional() });

/** Up to 16 pairs: keys of at most 64 characters, values strings of at most 512 characters, numbers or booleans. */
export const attributes = z
  .record(safeText().min(1).max(64), z.union([safeText().max(512), z.number(), z.boolean()]))
  .refine((a) => Object.keys(a).length <= 16, "at most 16 attributes");

/** Up to 16 pairs of strings (keys ≤ 64 characters, values ≤ 512). */
export const metadata = z.record(safeText().min(1).max(64), safeText().max(512)).refine((m) => Object.keys(m).length <= 16, "at most 16 keys");

export const chunkingStrategy = z.discriminatedUnion("type", [
  z.object({ type: z.literal("auto") }),
  z.object({
    type: z.literal("static"),
    static: z
      .object({
        max_chunk_size_tokens: z.int().min(100).max(4096),
        chunk_overlap_tokens: z.int().min(0),
      })
      .refine((s) => s.chunk_overlap_tokens <= s.max_chunk_size_tokens / 2, { message: "chunk_overlap_tokens must not exceed half of max_chunk_size_tokens", path: ["chunk_overlap_tokens"] }),
  }),
]);

export type ChunkingStrategy = z.infer<typeof chunkingStrategy>;

/** `auto` is the deployment's CHUNK_SIZE / CHUNK_OVERLAP. */
export function chunkingOf(strategy: ChunkingStrategy | undefined): { size: number; overlap: number } | undefined {
  if (!strategy || strategy.type === "auto") return undefined;
  return { size: strategy.static.max_chunk_size_tokens, overlap: strategy.static.chunk_overlap_tokens };
}

const expiresAfter = z.object({ anchor: z.literal("last_active_at"), days: z.int().min(1).max(365) });

const fileIds = z.array(objectId).max(500);

export const createVectorStoreBody = z.object({
  name: safeText().max(256).optional(),
  description: safeText().max(512).optional(),
  metadata: metadata.nullable().optional(),
  expires_after: expiresAfter.optional(),
  file_ids: fileIds.optional(),
  chunking_strategy: chunkingStrategy.optional(),
});

export const updateVectorStoreBody = z.object({
  name: safeText().max(256).nullable().optional(),
  metadata: metadata.nullable().optional(),
  expires_after: expiresAfter.nullable().optional(),
});

export const attachFileBody = z.object({
  file_id: objectId,
  attributes: attributes.nullable().optional(),
  chunking_strategy: chunkingStrategy.optional(),
});

export const updateVectorStoreFileBody = z.object({ attributes: attributes.nullable() });

export const createFileBatchBody = z
  .object({
    file_ids: fileIds.min(1).optional(),
    files: z.array(attachFileBody).min(1).max(500).optional(),
    attributes: attributes.nullable().optional(),
    chunking_strategy: chunkingStrategy.optional(),
  })
  .refine((b) => (b.file_ids === undefined) !== (b.files === undefined), { message: "send either file_ids or files, not both", path: ["file_ids"] });

export const searchBody = z.object({
  query: z.union([safeText().min(1).max(4096), z.array(safeText().min(1).max(4096)).min(1).max(10)]),
  filters: attributeFilter.optional(),
  max_num_results: z.int().min(1).max(50).default(10),
  ranking_options: z
    .object({
      ranker: z.enum(["none", "auto", "default-2024-11-15"]).default("auto"),
      score_threshold: z.number().min(0).max(1).optional(),
    })
    .optional(),
  rewrite_query: z.boolean().optional().describe("accepted; Quarry searches the query as given"),
});
