import { z } from "zod";
import { defineJob, runOnce } from "./job-definition.ts";

/**
 * Internal: compacts and indexes collections' vectors. Scheduled for every collection; queued for
 * one (`collection_id`) shortly after writes to it, so a collection being ingested into stays
 * compacted and indexed (see `afterVectorWrites`).
 */
export const optimizeVectorsJob = defineJob({
  name: "optimize_vectors",
  schema: z.object({
    collection_id: z.uuid().optional(),
    /** The generation written to (a re-embed writes the next one); default the current one. */
    vector_version: z.number().int().min(0).optional(),
    semantic: z.boolean().optional(),
  }),
  queue: "ingest",
  options: () => runOnce,
  visibility: "internal",
  cancel: "never",
  retry: false,
});
