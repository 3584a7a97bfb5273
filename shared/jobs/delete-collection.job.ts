import { z } from "zod";
import { defineJob, retried } from "./job-definition.ts";

/** Remove every vector generation of a collection, then its records. */
export const deleteCollectionJob = defineJob({
  name: "delete_collection",
  schema: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
  }),
  queue: "ingest",
  options: ({ attempts }) => retried(attempts),
  visibility: "tenant",
  cancel: "never",
  retry: true,
});
