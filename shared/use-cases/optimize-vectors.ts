import type { Deps } from "../deps.ts";

/** Vector store maintenance for every active collection's current generation (scheduled). */
export async function optimizeVectors(deps: Deps): Promise<{ collections: number }> {
  const collections = await deps.collections.listAllActive();
  for (const c of collections) {
    await deps.vectorStore.optimize({ tenantId: c.tenant_id, collectionId: c.id, version: c.vector_version });
  }
  return { collections: collections.length };
}
