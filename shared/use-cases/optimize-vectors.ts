import type { CollectionRow } from "../db/collections.repository.ts";
import type { Deps } from "../deps.ts";
import type { CollectionRef } from "../vector-store/vector-store.ts";

/** Points whose text one maintenance run fills in per generation; more are left to a run queued at once. */
const BACKFILL_PER_RUN = 50_000;
const BACKFILL_BATCH = 500;
/** How long one generation's maintenance may hold its lock: training an ANN index at 1M chunks can take most of an hour on two cores. */
const LOCK_MS = 2 * 3600_000;

/** Which generation to maintain, when a run is for one collection (see `afterVectorWrites`). */
export interface MaintenanceTarget {
  collectionId: string;
  /** Default: the collection's current generation. A re-embed writes (and maintains) the next one. */
  version?: number;
  /** Whether the generation's vectors are semantic; default: the collection's current model. */
  semantic?: boolean;
}

/**
 * Vector store maintenance: compaction, index upkeep (an ANN index for semantic collections past
 * VECTOR_INDEX_MIN_CHUNKS), and the text of points stored before keyword search existed. Scheduled
 * for every collection's current generation, and queued for one generation a few seconds after it
 * was written to. One run per generation at a time (a Redis lock): two compactions of one table
 * conflict, and the loser would fail. A generation that fails is logged and the others go on.
 */
export async function optimizeVectors(deps: Deps, target?: MaintenanceTarget): Promise<{ collections: number; texts_filled: number; skipped: number; failed: number }> {
  const collections = target ? [await deps.collections.findById(target.collectionId)].filter((c) => c?.status === "active") : await deps.collections.listAllActive();
  let filled = 0;
  let skipped = 0;
  let failed = 0;
  for (const c of collections as CollectionRow[]) {
    const ref: CollectionRef = { tenantId: c.tenant_id, collectionId: c.id, version: target?.version ?? c.vector_version };
    const lock = `${deps.config.QUEUE_PREFIX}:optimize:${c.id}:${ref.version}`;
    const token = `${process.pid}:${Math.random()}`;
    if ((await deps.redis.set(lock, token, "PX", LOCK_MS, "NX")) !== "OK") {
      skipped++; // another run maintains it now, and sees the same writes
      continue;
    }
    try {
      const more = await fillMissingTexts(deps, ref);
      filled += more.filled;
      await deps.vectorStore.optimize(ref, { semantic: target?.semantic ?? c.embedding.provider !== "local" });
      if (more.remaining) {
        await deps.producer.enqueue("optimize_vectors", `optimize-${c.id}-v${ref.version}-fill-${Date.now()}`, { collection_id: c.id, vector_version: ref.version });
      }
    } catch (err) {
      failed++;
      deps.logger.warn({ err, collectionId: c.id, version: ref.version }, "vector maintenance of a collection failed; the next run tries again");
    } finally {
      // Released only if still ours (a run that outlived LOCK_MS must not drop a newer run's lock).
      await deps.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0", 1, lock, token).catch(() => undefined);
    }
  }
  return { collections: collections.length, texts_filled: filled, skipped, failed };
}

/**
 * Gives points stored before keyword search their chunk's text, from Postgres, up to
 * BACKFILL_PER_RUN. A point whose chunk is gone (its document is being deleted) gets an empty
 * text, so it is not asked about again.
 */
async function fillMissingTexts(deps: Deps, ref: CollectionRef): Promise<{ filled: number; remaining: boolean }> {
  const readiness = await deps.vectorStore.keywordReadiness(ref);
  if (typeof readiness !== "object") return { filled: 0, remaining: false };
  let filled = 0;
  for (;;) {
    if (filled >= BACKFILL_PER_RUN) return { filled, remaining: true };
    const points = await deps.vectorStore.pointsWithoutText(ref, BACKFILL_BATCH);
    if (points.length === 0) break;
    const rows = await deps.chunks.texts(ref.collectionId, points);
    const texts = new Map(rows.map((r) => [`${r.document_id}:${r.chunk_index}`, r.text]));
    await deps.vectorStore.setTexts(ref, points.map((p) => ({ id: p.id, text: texts.get(`${p.documentId}:${p.chunkIndex}`) ?? "" })));
    filled += points.length;
  }
  if (filled > 0) deps.logger.info({ collectionId: ref.collectionId, version: ref.version, filled }, "filled in the keyword index's text of points stored before it existed");
  return { filled, remaining: false };
}
