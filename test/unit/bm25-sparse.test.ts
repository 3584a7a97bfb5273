import { describe, expect, it } from "vitest";
import { terms } from "../../shared/embeddings/local.embedding-provider.ts";
import { BM25_AVG_LEN, BM25_B, BM25_K1, documentSparseVector, querySparseVector, termIndex } from "../../shared/vector-store/bm25-sparse.ts";

/** The value a term gets for `tf` occurrences in a text of `len` terms. */
const weight = (tf: number, len: number) => (tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * len) / BM25_AVG_LEN));
const valueOf = (vector: { indices: number[]; values: number[] }, term: string) => vector.values[vector.indices.indexOf(termIndex(term))];

describe("BM25 sparse vectors", () => {
  it("keeps the indices Qdrant already stores: the hash and the tokenizer are pinned", () => {
    // Changing either silently breaks keyword search on every existing Qdrant collection.
    expect([termIndex("qdrant"), termIndex("bm25"), termIndex("vector stor")]).toEqual([4048959605, 2641922499, 3618904881]);
    expect(terms("Vector stores, indexed!")).toEqual(["vector", "stor", "vector stor", "index", "stor index"]);
  });

  it("is deterministic, with unique ascending u32 indices", () => {
    const text = "Qdrant stores sparse vectors; Qdrant indexes sparse vectors with an inverted index.";
    const a = documentSparseVector(text);
    expect(documentSparseVector(text)).toEqual(a);
    expect(a.indices).toEqual([...new Set(a.indices)].sort((x, y) => x - y));
    expect(a.indices.every((i) => Number.isInteger(i) && i >= 0 && i <= 0xffffffff)).toBe(true);
    expect(a.values).toHaveLength(a.indices.length);
  });

  it("weighs words and adjacent word pairs by the BM25 term-frequency part, the length counting every term", () => {
    const v = documentSparseVector("Quarry chunks documents");
    // quarry, chunk, quarry chunk, document, chunk document
    expect(v.indices).toHaveLength(5);
    expect(valueOf(v, "quarry")).toBeCloseTo(weight(1, 5), 12);
    expect(valueOf(v, "chunk document")).toBeCloseTo(weight(1, 5), 12);
  });

  it("saturates repeated terms: more occurrences weigh more, never more than k1 + 1", () => {
    const once = valueOf(documentSparseVector("quarry"), "quarry")!;
    const repeated = [2, 5, 50, 500].map((n) => valueOf(documentSparseVector(Array(n).fill("quarry").join(" ")), "quarry")!);
    const all = [once, ...repeated];
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]!);
    expect(Math.max(...all)).toBeLessThan(BM25_K1 + 1);
  });

  it("weighs a term less in a longer text", () => {
    const short = valueOf(documentSparseVector("quarry search"), "quarry")!;
    const long = valueOf(documentSparseVector(`quarry search ${"filler words here ".repeat(200)}`), "quarry")!;
    expect(long).toBeLessThan(short);
  });

  it("merges terms whose indices collide into one entry, counting both", () => {
    // Two words with the same 32-bit index (found by search): one entry with tf 2, plus their pair.
    expect(termIndex("q562789")).toBe(termIndex("q779192"));
    const v = documentSparseVector("q562789 q779192");
    expect(v.indices).toEqual([termIndex("q562789"), termIndex("q562789 q779192")].sort((a, b) => a - b));
    expect(valueOf(v, "q562789")).toBeCloseTo(weight(2, 3), 12);
    expect(querySparseVector("q562789 q779192").indices).toHaveLength(2);
  });

  it("gives an empty vector for text without terms", () => {
    for (const text of ["", "   ", "the and of", "!!! ..."]) {
      expect(documentSparseVector(text)).toEqual({ indices: [], values: [] });
      expect(querySparseVector(text)).toEqual({ indices: [], values: [] });
    }
  });

  it("gives a query each distinct term once with value 1", () => {
    const q = querySparseVector("Sparse vectors, sparse VECTORS");
    // sparse, vector, sparse vector, vector sparse
    expect(q.indices).toEqual([...new Set(terms("sparse vectors sparse vectors").map(termIndex))].sort((a, b) => a - b));
    expect(q.indices).toHaveLength(4);
    expect(q.values).toEqual([1, 1, 1, 1]);
  });
});
