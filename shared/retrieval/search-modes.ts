/** How a search finds chunks: by meaning (vector), by words (keyword, BM25), or both fused (hybrid). */
export const SEARCH_MODES = ["vector", "keyword", "hybrid"] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
