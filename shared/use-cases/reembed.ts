import type { Deps } from "../deps.ts";
import type { EmbeddingSpec } from "../db/collections.repository.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { AppError, notFound, permanent } from "../errors/app-error.ts";
import type { JobPayload } from "../jobs/index.ts";
import { batchJobs, planBatches } from "./embed-chunks.ts";
import { busyRestoring } from "./documents.ts";
import { acceptWork, recordJob } from "./jobs.ts";

type ReembedPayload = { tenant_id: string; collection_id: string; embedding: EmbeddingSpec };

/**
 * Starts a model migration: every chunk is embedded again with `embedding` into the collection's
 * next vector generation; searches keep using the current one until the job switches over. New
 * uploads wait (409 COLLECTION_BUSY) while it runs, so no document is left behind.
 */
export async function requestReembed(deps: Deps, tenantId: string, collectionId: string, requested: Partial<EmbeddingSpec>, callbackUrl?: string): Promise<JobRow> {
  const spec = await deps.embedders.resolve(requested);
  return acceptWork(deps, async (tx) => {
    // The row lock waits for uploads in flight (they share-lock it) and holds off new ones.
    await tx.collections.lockForReembed(collectionId);
    const collection = await tx.collections.get(tenantId, collectionId);
    if (!collection) throw notFound("collection");
    if (collection.reembed_job_id) throw new AppError("REEMBED_IN_PROGRESS", "the collection is already being re-embedded", { httpStatus: 409 });
    if (collection.restore_job_id) throw busyRestoring("re-embed it");
    if (await tx.outbox.pendingFor(collectionId, "reembed_collection")) {
      // The cleanup of an earlier re-embed's generation has not run yet; it would drop this one's.
      throw new AppError("COLLECTION_BUSY", "an earlier re-embed of this collection is still being cleaned up; try again in a few seconds", {
        httpStatus: 409,
        retryAfter: 5,
      });
    }
    if ((await tx.documents.countInFlight(collectionId)) > 0) {
      throw new AppError("COLLECTION_BUSY", "documents of this collection are still being ingested; re-embed when they are done", {
        httpStatus: 409,
        retryAfter: 30,
      });
    }
    const row = await recordJob(deps, tx, {
      name: "reembed_collection",
      tenantId,
      payload: { tenant_id: tenantId, collection_id: collectionId, embedding: spec },
      resource: { type: "collection", id: collectionId },
      callbackUrl,
    });
    if (!(await tx.collections.startReembed(tenantId, collectionId, row.id, spec))) {
      throw new AppError("REEMBED_IN_PROGRESS", "the collection is already being re-embedded", { httpStatus: 409 });
    }
    return row;
  });
}

/** The plan step: create the next generation and batch every ready chunk into it. */
export async function planReembed(
  deps: Deps,
  payload: ReembedPayload,
  jobId: string,
): Promise<{ targetVersion: number; batches: Array<JobPayload<"embed_chunks">> }> {
  const collection = await deps.collections.findById(payload.collection_id);
  if (!collection || collection.status !== "active") throw permanent("COLLECTION_GONE", "the collection was deleted");
  if (collection.reembed_job_id !== jobId) throw permanent("REEMBED_SUPERSEDED", "this re-embed is no longer the collection's current one");
  const targetVersion = collection.vector_version + 1;
  const ref = { tenantId: payload.tenant_id, collectionId: collection.id, version: targetVersion };
  await deps.vectorStore.dropCollection(ref); // leftovers of an earlier, abandoned attempt
  await deps.vectorStore.ensureCollection(ref, payload.embedding.dimensions);
  // A deletion that ran meanwhile dropped every generation: do not leave this one behind.
  const still = await deps.collections.findById(collection.id);
  if (!still || still.status !== "active") {
    await deps.vectorStore.dropCollection({ tenantId: payload.tenant_id, collectionId: collection.id });
    throw permanent("COLLECTION_GONE", "the collection was deleted");
  }
  const keys = await deps.chunks.readyKeys(collection.id);
  await deps.jobs.setUnits(jobId, keys.length, 5);
  const batches = batchJobs(planBatches(keys, deps.config.EMBED_BATCH_SIZE), {
    tenant_id: payload.tenant_id,
    collection_id: collection.id,
    vector_version: targetVersion,
    embedding: payload.embedding,
    parent_job_id: jobId,
    progress: { base: 5, span: 94 },
    ready_only: true,
  });
  return { targetVersion, batches };
}

/**
 * The last step: switch searches to the target generation and model, then drop the generation
 * before it. Idempotent — a rerun after a crash switches nothing twice and drops only the old one.
 */
export async function finalizeReembed(
  deps: Deps,
  payload: ReembedPayload & { target_version?: number },
  jobId: string,
): Promise<{ collection_id: string; embedding: EmbeddingSpec; vector_version: number; chunk_count: number }> {
  const collection = await deps.collections.findById(payload.collection_id);
  if (!collection || collection.status !== "active") throw permanent("COLLECTION_GONE", "the collection was deleted");
  const target = payload.target_version;
  if (!target) throw permanent("INVALID_PAYLOAD", "the re-embed job does not name its target generation");
  if (collection.vector_version !== target) {
    if (collection.reembed_job_id !== jobId) throw permanent("REEMBED_SUPERSEDED", "this re-embed is no longer the collection's current one");
    await deps.collections.finishReembed(collection.id, jobId, payload.embedding, target);
  }
  await deps.vectorStore.dropCollection({ tenantId: payload.tenant_id, collectionId: collection.id, version: target - 1 });
  const chunkCount = await deps.vectorStore.count({ tenantId: payload.tenant_id, collectionId: collection.id, version: target });
  return { collection_id: collection.id, embedding: payload.embedding, vector_version: target, chunk_count: chunkCount };
}
