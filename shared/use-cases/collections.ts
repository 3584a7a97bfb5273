import { randomUUID } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { CollectionRow, EmbeddingSpec } from "../db/collections.repository.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { conflict, notFound } from "../errors/app-error.ts";
import { requestCancels } from "./cancel-job.ts";
import { acceptWork, recordJob } from "./jobs.ts";

export async function createCollection(
  deps: Deps,
  tenantId: string,
  input: { name: string; embedding?: Partial<EmbeddingSpec> },
): Promise<CollectionRow> {
  const embedding = await deps.embedders.resolve(input.embedding);
  const row = await deps.collections.insert({ id: randomUUID(), tenantId, name: input.name, embedding });
  if (!row) throw conflict("COLLECTION_EXISTS", `a collection named "${input.name}" already exists`);
  await deps.vectorStore.ensureCollection({ tenantId, collectionId: row.id, version: 0 }, embedding.dimensions);
  return row;
}

export async function getCollection(deps: Pick<Deps, "collections">, tenantId: string, id: string): Promise<CollectionRow> {
  const row = await deps.collections.get(tenantId, id);
  if (!row) throw notFound("collection");
  return row;
}

/**
 * Hides the collection at once (uploads in flight finish first: they share-lock its row) and
 * queues the job that deletes its vectors and records; ingests still running in it are asked to
 * stop. Nothing is applied unless the job is queued.
 */
export async function requestCollectionDeletion(deps: Deps, tenantId: string, id: string, callbackUrl?: string): Promise<JobRow> {
  const job = await acceptWork(deps, async (tx) => {
    if (!(await tx.collections.markDeleting(tenantId, id))) throw notFound("collection");
    return recordJob(deps, tx, {
      name: "delete_collection",
      tenantId,
      payload: { tenant_id: tenantId, collection_id: id },
      resource: { type: "collection", id },
      callbackUrl,
    });
  });
  const reason = { code: "CANCELLED", message: "its collection was deleted" };
  await requestCancels(deps, await deps.jobs.unfinishedResourcesIn(id), ["ingest_document"], reason);
  await requestCancels(deps, [id], ["reembed_collection"], reason);
  return job;
}

/** The delete job: every vector generation first, then the rows (a retry finds nothing left to do). */
export async function deleteCollection(deps: Deps, tenantId: string, collectionId: string): Promise<{ collection_id: string }> {
  await deps.vectorStore.dropCollection({ tenantId, collectionId });
  await deps.collections.remove(collectionId);
  return { collection_id: collectionId };
}
