import type { CollectionRow } from "../db/collections.repository.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors/app-error.ts";
import { reciprocalRankFusion } from "../retrieval/fusion.ts";
import { SEARCH_MODES, type SearchMode } from "../retrieval/search-modes.ts";
import type { Filter } from "../vector-store/filter.ts";
import type { CollectionRef, ScoredPoint } from "../vector-store/vector-store.ts";
import { getCollection } from "./collections.ts";

export { SEARCH_MODES, type SearchMode };

export interface SearchHit {
  document_id: string;
  chunk_index: number;
  /** What the hits are ordered by: cosine (vector), BM25 (keyword), fused (hybrid) or the reranker's. */
  score: number;
  /** The signals behind `score`: each list's own score, and the reranker's when it reordered. */
  scores: { vector?: number; keyword?: number; rerank?: number };
  text: string;
  title: string | null;
  metadata: Record<string, unknown>;
  page?: number;
  heading?: string;
  sheet?: string;
  slide?: number;
  ocr_confidence?: number;
}

/** Something the caller should know about an answer that is still correct (it never makes one fail). */
export interface SearchWarning {
  code: "RERANK_FAILED" | "KEYWORD_INDEX_INCOMPLETE" | "KEYWORD_SEARCH_UNAVAILABLE";
  message: string;
}

export interface SearchQuery {
  query: string;
  topK: number;
  filter?: Filter;
  /** Only these documents' chunks (with the filter, when both are given); empty finds nothing. */
  documentIds?: readonly string[];
  /** A cosine similarity: only with mode `vector` (the mode it implies when none is given). */
  scoreThreshold?: number;
  /** Default: the collection's (`defaultSearchMode`). */
  mode?: SearchMode;
  /** Default: on when a reranker is configured. */
  rerank?: boolean;
  /** Hybrid fusion weights; default HYBRID_VECTOR_WEIGHT / HYBRID_KEYWORD_WEIGHT. */
  weights?: { vector?: number; keyword?: number };
}

export interface SearchOutcome {
  data: SearchHit[];
  mode: SearchMode;
  reranked: boolean;
  warnings: SearchWarning[];
  /** Milliseconds per step (collection, embed, vector, keyword, join, rerank): the API sends them as Server-Timing. */
  timings: Timings;
}

/** Milliseconds spent per step of one search; steps that ran in parallel overlap. */
export type Timings = Record<string, number>;

/** Runs `fn` and adds its duration to `timings[step]`. */
async function timed<T>(timings: Timings | undefined, step: string, fn: () => Promise<T>): Promise<T> {
  if (!timings) return fn();
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings[step] = (timings[step] ?? 0) + performance.now() - started;
  }
}

/**
 * The mode a search uses when it names none. Collections embedded by an OpenAI-compatible model
 * search by meaning (`vector`). The local embedder's vectors are hashed words that do not weigh a
 * word by its rarity, so they find what BM25 finds, less well — and fused in with BM25 they push
 * its answers down: on the labelled evaluation keyword scored hit@5 0.89 and MRR 0.78, hybrid 0.80
 * and 0.71, vector 0.65 and 0.57. Its collections default to `keyword` (docs/benchmarks.md,
 * "Retrieval quality").
 */
export function defaultSearchMode(collection: Pick<CollectionRow, "embedding">): SearchMode {
  return collection.embedding.provider === "local" ? "keyword" : "vector";
}

/** How many candidates each list contributes to a fusion or a rerank of `topK` hits. */
function candidateCount(deps: Deps, topK: number, rerank: boolean): number {
  return Math.min(1000, Math.max(topK, rerank ? deps.config.RERANK_CANDIDATES : 0, 2 * topK, 20));
}

/**
 * Finds a collection's best chunks for a query: by meaning (vector), by words (keyword, BM25), or
 * both fused by reciprocal rank (hybrid); then, if asked, reorders the best candidates with the
 * reranker. Hits are joined with their text and document from Postgres (the source of truth);
 * chunks of documents still being ingested or deleted are left out.
 */
export async function searchCollection(deps: Deps, tenantId: string, collectionId: string, query: SearchQuery): Promise<SearchOutcome> {
  const timings: Timings = {};
  const collection = await timed(timings, "collection", () => getCollection(deps, tenantId, collectionId));
  const rerank = wantsRerank(deps, query.rerank);
  const found = await retrieve(deps, collection, { ...query, topK: rerank ? candidateCount(deps, query.topK, true) : query.topK }, timings);
  if (!rerank) return { data: found.hits.slice(0, query.topK), mode: found.mode, reranked: false, warnings: found.warnings, timings };
  const reranked = await timed(timings, "rerank", () => rerankHits(deps, query.query, found.hits, query.topK));
  return { data: reranked.hits, mode: found.mode, reranked: reranked.reranked, warnings: [...found.warnings, ...reranked.warnings], timings };
}

/** Whether to rerank: as asked, else whenever a reranker is configured. Asking without one is a 422. */
export function wantsRerank(deps: Pick<Deps, "reranker">, asked: boolean | undefined): boolean {
  if (asked && !deps.reranker) {
    throw new AppError("RERANK_UNAVAILABLE", "rerank was asked for, but no reranker is configured on this deployment (RERANK_URL)", { httpStatus: 422 });
  }
  return asked ?? Boolean(deps.reranker);
}

/** The search of one collection, without reranking: `topK` hits with text, best first. */
export async function retrieve(
  deps: Deps,
  collection: CollectionRow,
  query: Omit<SearchQuery, "rerank">,
  timings?: Timings,
): Promise<{ hits: SearchHit[]; mode: SearchMode; warnings: SearchWarning[] }> {
  const explicit = query.mode;
  if (query.scoreThreshold !== undefined && explicit && explicit !== "vector") {
    throw new AppError("VALIDATION_ERROR", "score_threshold is a cosine similarity: it applies to mode vector only", { httpStatus: 400 });
  }
  let mode: SearchMode = explicit ?? (query.scoreThreshold !== undefined ? "vector" : defaultSearchMode(collection));
  const ref: CollectionRef = { tenantId: collection.tenant_id, collectionId: collection.id, version: collection.vector_version };
  const warnings: SearchWarning[] = [];

  if (mode !== "vector") {
    const readiness = await deps.vectorStore.keywordReadiness(ref);
    if (readiness === "unsupported") {
      const message = "this collection's vectors were stored before keyword search existed and their store cannot add a keyword index: re-embed the collection (POST /v1/collections/:id/reembed) to build one";
      if (explicit) throw new AppError("KEYWORD_SEARCH_UNAVAILABLE", message, { httpStatus: 409 });
      // A default mode must not break the collection's searches: fall back to vector, and say so.
      warnings.push({ code: "KEYWORD_SEARCH_UNAVAILABLE", message: `searched by vector only: ${message}` });
      mode = "vector";
    } else if (readiness !== "ready") {
      const message = `${readiness.missing} chunks stored before keyword search existed are not in the keyword index yet; the vector store's maintenance adds them`;
      // A default mode must not hide the collection's chunks meanwhile: vector search sees them all.
      if (!explicit) mode = "vector";
      warnings.push({ code: "KEYWORD_INDEX_INCOMPLETE", message: explicit ? message : `searched by vector only: ${message}` });
    }
  }

  const wide = mode === "hybrid" ? candidateCount(deps, query.topK, false) : query.topK;
  const [vectorHits, keywordHits] = await Promise.all([
    mode === "keyword" ? [] : vectorSearch(deps, collection, ref, query, wide, timings),
    mode === "vector" ? [] : timed(timings, "keyword", () => deps.vectorStore.keywordSearch(ref, query.query, { topK: wide, filter: query.filter, documentIds: query.documentIds })),
  ]);

  let ranked: Array<{ point: ScoredPoint; score: number; scores: SearchHit["scores"] }>;
  if (mode === "vector") ranked = vectorHits.map((p) => ({ point: p, score: p.score, scores: { vector: p.score } }));
  else if (mode === "keyword") ranked = keywordHits.map((p) => ({ point: p, score: p.score, scores: { keyword: p.score } }));
  else {
    const vectorWeight = query.weights?.vector ?? deps.config.HYBRID_VECTOR_WEIGHT;
    const keywordWeight = query.weights?.keyword ?? deps.config.HYBRID_KEYWORD_WEIGHT;
    if (vectorWeight + keywordWeight === 0) throw new AppError("VALIDATION_ERROR", "weights.vector and weights.keyword cannot both be 0", { httpStatus: 400 });
    const vectorScore = new Map(vectorHits.map((p) => [p.id, p.score]));
    const keywordScore = new Map(keywordHits.map((p) => [p.id, p.score]));
    ranked = reciprocalRankFusion([
      { items: vectorHits, weight: vectorWeight },
      { items: keywordHits, weight: keywordWeight },
    ])
      // A list with weight 0 still contributes candidates, but no votes: drop what only it found.
      .filter((e) => e.score > 0)
      .map((e) => ({
        point: e.item,
        score: e.score,
        scores: { ...(vectorScore.has(e.item.id) ? { vector: vectorScore.get(e.item.id)! } : {}), ...(keywordScore.has(e.item.id) ? { keyword: keywordScore.get(e.item.id)! } : {}) },
      }));
  }
  // Hybrid joins all its candidates, then cuts: chunks of documents still being ingested (or
  // deleted) drop out in the join, and the next candidates take their places.
  const hits = await timed(timings, "join", () => withText(deps, collection.id, mode === "hybrid" ? ranked : ranked.slice(0, query.topK)));
  return { hits: hits.slice(0, query.topK), mode, warnings };
}

async function vectorSearch(deps: Deps, collection: CollectionRow, ref: CollectionRef, query: Omit<SearchQuery, "rerank">, topK: number, timings?: Timings): Promise<ScoredPoint[]> {
  const vector = await timed(timings, "embed", () => deps.embedders.embedQuery(collection.embedding, query.query));
  return timed(timings, "vector", () => deps.vectorStore.search(ref, vector, { topK, filter: query.filter, documentIds: query.documentIds, scoreThreshold: query.scoreThreshold }));
}

/** Joins ranked points with their chunk's text and document, in rank order. */
async function withText(deps: Deps, collectionId: string, ranked: Array<{ point: ScoredPoint; score: number; scores: SearchHit["scores"] }>): Promise<SearchHit[]> {
  if (ranked.length === 0) return [];
  const rows = await deps.chunks.findHits(
    collectionId,
    ranked.map((r) => ({ documentId: r.point.documentId, chunkIndex: r.point.chunkIndex })),
  );
  const byKey = new Map(rows.map((r) => [`${r.document_id}:${r.chunk_index}`, r]));
  return ranked.flatMap(({ point, score, scores }) => {
    const row = byKey.get(`${point.documentId}:${point.chunkIndex}`);
    if (!row) return []; // a document still being ingested or deleted
    return [
      {
        document_id: point.documentId,
        chunk_index: point.chunkIndex,
        score,
        scores,
        text: row.text,
        title: row.title,
        metadata: row.metadata,
        ...(row.page !== null ? { page: row.page } : {}),
        ...(row.heading ? { heading: row.heading } : {}),
        ...(row.sheet !== null ? { sheet: row.sheet } : {}),
        ...(row.slide !== null ? { slide: row.slide } : {}),
        ...(row.ocr_confidence !== null ? { ocr_confidence: row.ocr_confidence } : {}),
      },
    ];
  });
}

/**
 * Reorders candidates with the reranker and keeps the best `topK`; each hit's `score` becomes the
 * reranker's relevance score. A reranker that fails or times out leaves the order as it was (the
 * best `topK` candidates), with a warning: reranking improves an answer, it never breaks one.
 */
export async function rerankHits<T extends Pick<SearchHit, "text" | "score" | "scores">>(
  deps: Pick<Deps, "reranker" | "logger" | "metrics">,
  query: string,
  candidates: T[],
  topK: number,
): Promise<{ hits: T[]; reranked: boolean; warnings: SearchWarning[] }> {
  const reranker = deps.reranker;
  if (!reranker || candidates.length === 0) return { hits: candidates.slice(0, topK), reranked: false, warnings: [] };
  const started = performance.now();
  try {
    const order = await reranker.rerank(query, candidates.map((c) => c.text), topK);
    deps.metrics.reranked("ok", (performance.now() - started) / 1000);
    return {
      hits: order.map((r) => {
        const hit = candidates[r.index]!;
        return { ...hit, score: r.score, scores: { ...hit.scores, rerank: r.score } };
      }),
      reranked: true,
      warnings: [],
    };
  } catch (err) {
    deps.metrics.reranked("failed", (performance.now() - started) / 1000);
    deps.logger.warn({ err: { message: (err as Error).message }, model: reranker.model }, "reranker failed; answering in the unreranked order");
    return {
      hits: candidates.slice(0, topK),
      reranked: false,
      warnings: [{ code: "RERANK_FAILED", message: `the reranker failed, so the hits are in their unreranked order: ${(err as Error).message}` }],
    };
  }
}
