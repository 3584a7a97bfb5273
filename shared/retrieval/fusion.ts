/** One ranked list's entry: anything with an id, best first in its list. */
export interface Ranked {
  id: string;
}

export interface FusedEntry<T extends Ranked> {
  item: T;
  /** Σ weight / (k + rank) over the lists the item is in (rank counts from 1). */
  score: number;
  /** Its rank in each list it is in (1 = first). */
  ranks: number[];
}

/** The k of reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): damps the weight of the very top ranks. */
export const RRF_K = 60;

/**
 * Weighted reciprocal rank fusion: each list votes `weight / (k + rank)` for each of its items,
 * and items are ordered by their summed votes. It needs no score calibration, so cosine
 * similarities and BM25 scores (which are on unrelated scales) fuse fairly. Ties keep the order
 * in which the items were first seen, lists in the order given.
 */
export function reciprocalRankFusion<T extends Ranked>(lists: ReadonlyArray<{ items: readonly T[]; weight: number }>, k = RRF_K): Array<FusedEntry<T>> {
  const fused = new Map<string, FusedEntry<T>>();
  lists.forEach(({ items, weight }, list) => {
    items.forEach((item, i) => {
      let entry = fused.get(item.id);
      if (!entry) {
        entry = { item, score: 0, ranks: [] };
        fused.set(item.id, entry);
      }
      entry.score += weight / (k + i + 1);
      entry.ranks[list] = i + 1;
    });
  });
  // Map iteration order is insertion order, and Array.prototype.sort is stable.
  return [...fused.values()].sort((a, b) => b.score - a.score);
}
