import { z } from "zod";
import { embeddingSpecSchema } from "./embedding-spec.ts";
import { defineJob, retried } from "./job-definition.ts";

const chunkKey = z.object({ document_id: z.uuid(), chunk_index: z.number().int().min(0) });

/** Internal: embed the chunks from..to (inclusive, in (document, index) order) and upsert them. */
export const embedChunksJob = defineJob({
  name: "embed_chunks",
  schema: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    vector_version: z.number().int().min(0),
    embedding: embeddingSpecSchema,
    from: chunkKey,
    to: chunkKey,
    /** The durable job this batch belongs to (its progress, failure and cancel). */
    parent_job_id: z.uuid(),
    /** Progress of the parent: base + span × done / total. */
    progress: z.object({ base: z.number(), span: z.number() }),
    /** Re-embeds take only chunks of ready documents (failed ones may sit between the keys). */
    ready_only: z.boolean().default(false),
  }),
  queue: "embed",
  // A batch that still fails after its retries fails its parent with its error.
  options: ({ attempts }) => ({ ...retried(attempts + 3), failParentOnFailure: true }),
  visibility: "internal",
  owner: (data) => data.parent_job_id,
  cancel: "never",
  retry: false,
});
