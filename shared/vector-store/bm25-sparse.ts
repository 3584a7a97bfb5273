import { fnv1a, terms } from "../embeddings/local.embedding-provider.ts";

/** A sparse vector as Qdrant takes it: unique u32 indices (ascending here) and their values. */
export interface SparseVector {
  indices: number[];
  values: number[];
}

/** BM25's term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25's length normalisation (0: none, 1: full). */
export const BM25_B = 0.75;
/**
 * The average chunk length in terms, fixed rather than measured per collection (Qdrant's IDF
 * modifier supplies the collection statistics, not this one). Quarry's chunks are up to 800
 * cl100k tokens (CHUNK_SIZE) ≈ 340 words after stop words; with shorter last chunks and small
 * documents, the chunks of the labelled corpus (bench/eval) average 249 words, and `terms()`
 * adds about as many word pairs: ≈ 500 terms.
 */
export const BM25_AVG_LEN = 500;

/**
 * The sparse index of a term: the local embedder's stable hash (FNV-1a with Murmur3's finaliser),
 * as a u32. Stored indices depend on it (and on `terms()`): neither may change without
 * re-embedding every Qdrant collection (the local embedder's vectors depend on both too).
 */
export const termIndex = (term: string): number => fnv1a(term);

function sorted(entries: Map<number, number>): SparseVector {
  const indices = [...entries.keys()].sort((a, b) => a - b);
  return { indices, values: indices.map((i) => entries.get(i)!) };
}

/**
 * A chunk's BM25 document vector: for each term of `terms()` (words and adjacent word pairs), the
 * BM25 term-frequency part `tf·(k1+1) / (tf + k1·(1 − b + b·len/avgLen))`, `len` counting every
 * term. The IDF part is Qdrant's (`modifier: "idf"`), computed from the collection at query time —
 * the FastEmbed `Qdrant/bm25` scheme with Quarry's tokenizer. Terms whose indices collide count
 * as one term.
 */
export function documentSparseVector(text: string): SparseVector {
  const all = terms(text);
  const counts = new Map<number, number>();
  for (const term of all) {
    const index = termIndex(term);
    counts.set(index, (counts.get(index) ?? 0) + 1);
  }
  const norm = BM25_K1 * (1 - BM25_B + (BM25_B * all.length) / BM25_AVG_LEN);
  for (const [index, tf] of counts) counts.set(index, (tf * (BM25_K1 + 1)) / (tf + norm));
  return sorted(counts);
}

/** A query's BM25 vector: each distinct term once, value 1, so a score is Σ idf·tf-part over the shared terms. */
export function querySparseVector(text: string): SparseVector {
  return sorted(new Map(terms(text).map((term) => [termIndex(term), 1])));
}
