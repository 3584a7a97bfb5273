import type { Deps } from "../deps.ts";

/**
 * Removes a document's vectors from every generation its collection may hold (the current one,
 * and the next while a re-embed runs). Idempotent; a collection already gone is nothing to do.
 */
export async function removeDocumentVectors(deps: Pick<Deps, "collections" | "vectorStore">, doc: { tenantId: string; collectionId: string; documentId: string }): Promise<void> {
  const collection = await deps.collections.findById(doc.collectionId);
  if (!collection) return;
  const versions = new Set([collection.vector_version]);
  if (collection.reembed_job_id) versions.add(collection.vector_version + 1);
  for (const version of versions) {
    await deps.vectorStore.deleteDocument({ tenantId: doc.tenantId, collectionId: doc.collectionId, version }, doc.documentId);
  }
}

/**
 * Drops the generation an ended re-embed was writing, unless a newer re-embed has started since
 * (it clears leftovers itself when it plans) or the switch-over happened.
 */
export async function dropAbandonedGeneration(deps: Pick<Deps, "collections" | "vectorStore">, ref: { tenantId: string; collectionId: string }): Promise<void> {
  const collection = await deps.collections.findById(ref.collectionId);
  if (!collection || collection.reembed_job_id) return;
  await deps.vectorStore.dropCollection({ ...ref, version: collection.vector_version + 1 });
}
