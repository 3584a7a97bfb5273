import type { CollectionRef, VectorStore } from "../vector-store/vector-store.ts";

/**
 * Copies one collection generation's points, vectors and metadata as they are, from one store to
 * another (embedded → Qdrant), without re-embedding. Ids are kept, so running it again overwrites.
 */
export async function copyVectors(
  source: VectorStore,
  target: VectorStore,
  ref: CollectionRef,
  dimensions: number,
): Promise<{ copied: number; sourceCount: number; targetCount: number }> {
  await target.ensureCollection(ref, dimensions);
  let copied = 0;
  for await (const batch of source.scan(ref, 500)) {
    await target.upsert(ref, batch);
    copied += batch.length;
  }
  return { copied, sourceCount: await source.count(ref), targetCount: await target.count(ref) };
}
