import { z } from "zod";
import { defineJob, retried } from "./job-definition.ts";

/** Remove a document's vectors and records (it is hidden from the moment it is asked for). */
export const deleteDocumentJob = defineJob({
  name: "delete_document",
  schema: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    document_id: z.uuid(),
  }),
  queue: "ingest",
  options: ({ attempts }) => retried(attempts),
  visibility: "tenant",
  // A deletion hides what it deletes at once, and half-deleted vectors cannot be put back.
  cancel: "never",
  retry: true,
});
