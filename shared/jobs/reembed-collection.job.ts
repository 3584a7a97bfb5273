import { z } from "zod";
import { dropAbandonedGeneration } from "../use-cases/vector-cleanup.ts";
import { embeddingSpecSchema } from "./embedding-spec.ts";
import { defineJob, retried } from "./job-definition.ts";

/** Re-embed every chunk of a collection with another model into a new vector generation. */
export const reembedCollectionJob = defineJob({
  name: "reembed_collection",
  schema: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    embedding: embeddingSpecSchema,
    step: z.enum(["plan", "finalize"]).default("plan"),
    /** The generation the plan step wrote to; finalize switches to exactly this one. */
    target_version: z.number().int().min(1).optional(),
  }),
  queue: "ingest",
  options: ({ attempts }) => retried(attempts),
  visibility: "tenant",
  cancel: "running",
  // A re-embed that ended is started anew (POST /reembed): the collection has moved on since.
  retry: false,
  restart: ({ step: _step, target_version: _target, ...data }) => data,
  async onEnd(tx, { status, data, job }) {
    // A re-embed that failed or was cancelled leaves the collection on its current generation.
    if (status !== "succeeded") await tx.collections.abandonReembed(data.collection_id, job.id);
  },
  async afterEnd(deps, { status, data }) {
    if (status !== "succeeded") await dropAbandonedGeneration(deps, { tenantId: data.tenant_id, collectionId: data.collection_id });
  },
});
