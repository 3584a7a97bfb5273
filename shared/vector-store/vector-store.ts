import type { Filter } from "./filter.ts";

/** Which Quarry collection a call is about. Adapters keep tenants and collections apart. */
export interface CollectionRef {
  tenantId: string;
  collectionId: string;
  /** The vector generation (0 unless the collection was re-embedded); each is stored apart. */
  version?: number;
}

export interface VectorPoint {
  /** Derived from document id + chunk index (uuid v5), so rewriting a point overwrites it. */
  id: string;
  vector: number[];
  documentId: string;
  chunkIndex: number;
  /** The document's metadata, which filters apply to. */
  metadata: Record<string, unknown>;
  /** The chunk's text, for the keyword (BM25) index. */
  text: string;
}

export interface ScoredPoint {
  id: string;
  documentId: string;
  chunkIndex: number;
  /**
   * Higher is better. Vector search: cosine similarity (1 = same direction). Keyword search: the
   * store's BM25 score (not comparable across stores or collections).
   */
  score: number;
}

/** What `snapshot` wrote. */
export interface VectorSnapshot {
  /** Points in the snapshot. */
  points: number;
  /** Points per document (see `VectorStore.snapshot`). */
  documents: Map<string, number>;
}

export interface SearchOptions {
  topK: number;
  filter?: Filter;
  /** Only points of these documents (and the filter's, when both are given); empty finds nothing. */
  documentIds?: readonly string[];
  scoreThreshold?: number;
}

export interface KeywordSearchOptions {
  topK: number;
  filter?: Filter;
  /** As in SearchOptions. */
  documentIds?: readonly string[];
}

export interface OptimizeOptions {
  /**
   * The collection's vectors are semantic (an embedding model): the store may build an ANN index
   * once the generation is large enough. Lexical (feature-hashed) vectors keep exact search.
   */
  semantic?: boolean;
}

/** What a generation's keyword index can answer. */
export type KeywordReadiness =
  /** Every point's text is indexed (or searched without the index until the next maintenance). */
  | "ready"
  /** Points written before keyword search existed have no text yet; maintenance fills it in. */
  | { missing: number }
  /** The generation's storage cannot hold a keyword index (a Qdrant collection made before it): re-embed. */
  | "unsupported";

/**
 * The vector store port. Every adapter passes the same contract suite
 * (test/integration/vector-store.contract.ts).
 */
export interface VectorStore {
  readonly kind: "embedded" | "qdrant";
  /** Creates the collection's storage if it does not exist yet; idempotent. */
  ensureCollection(ref: CollectionRef, dimensions: number): Promise<void>;
  /**
   * Removes the collection's points: one generation when `ref.version` is given, every generation
   * otherwise. A missing collection is not an error.
   */
  dropCollection(ref: CollectionRef): Promise<void>;
  /** Inserts or overwrites points by id. */
  upsert(ref: CollectionRef, points: VectorPoint[]): Promise<void>;
  /** The nearest points by cosine similarity, best first, restricted by the metadata filter. */
  search(ref: CollectionRef, vector: number[], options: SearchOptions): Promise<ScoredPoint[]>;
  /**
   * Full-text (BM25) search over the points' text, best first, restricted by the metadata filter:
   * points that share no term with the query are not returned. Scores are the store's own.
   */
  keywordSearch(ref: CollectionRef, query: string, options: KeywordSearchOptions): Promise<ScoredPoint[]>;
  /** Whether keyword search sees every point of the generation (see KeywordReadiness). */
  keywordReadiness(ref: CollectionRef): Promise<KeywordReadiness>;
  /**
   * Points written without text (before keyword search existed), at most `limit`, so maintenance
   * can fill their text in from Postgres with `setTexts`.
   */
  pointsWithoutText(ref: CollectionRef, limit: number): Promise<Array<{ id: string; documentId: string; chunkIndex: number }>>;
  /**
   * Fills in the text of existing points (by id) that have none; points that have text keep it
   * (they were rewritten since), and ids that do not exist are ignored.
   */
  setTexts(ref: CollectionRef, texts: Array<{ id: string; text: string }>): Promise<void>;
  /**
   * Replaces the metadata that filters see on every point of a document (its attributes were
   * updated); a document without points is not an error.
   */
  setDocumentMetadata(ref: CollectionRef, documentId: string, metadata: Record<string, unknown>): Promise<void>;
  /** Removes every point of a document. */
  deleteDocument(ref: CollectionRef, documentId: string): Promise<void>;
  /** Number of points in the collection, or of one document. */
  count(ref: CollectionRef, documentId?: string): Promise<number>;
  /** Every point of a generation, in batches (vectors and metadata included): for copying between stores. */
  scan(ref: CollectionRef, batchSize?: number): AsyncIterable<VectorPoint[]>;
  /**
   * Writes a consistent copy of one generation's points (vectors, ids, payloads) into the empty
   * directory `dir`, for backups. Every file it leaves there belongs to the snapshot; the names
   * do not depend on `ref`, so `restore` can load it into any generation or collection.
   *
   * `documents` narrows what the caller needs: the embedded store writes only their points; Qdrant
   * snapshots a whole collection, so its file may hold other points too (a restore removes them).
   * The answer's `documents` counts points per document for the documents asked for (all when
   * none were asked for) as they are in the snapshot — Qdrant reads them from the live collection
   * after the snapshot completed, which proves the same thing for points that are only ever
   * removed, never re-added (the points of a ready document).
   */
  snapshot(ref: CollectionRef, dir: string, options?: { documents?: ReadonlySet<string> }): Promise<VectorSnapshot>;
  /**
   * Loads a snapshot written by `snapshot` (of any generation or collection) into generation
   * `ref`, replacing whatever it held. `documentIds` renames documents (old id → new id) and
   * gives their points the ids `pointId(new document id, chunk index)`: a restore beside the
   * original, whose documents get new ids.
   */
  restore(ref: CollectionRef, dir: string, options?: { documentIds?: ReadonlyMap<string, string> }): Promise<void>;
  /** Points per document in a generation (documents without points are absent). */
  documentCounts(ref: CollectionRef): Promise<Map<string, number>>;
  /**
   * Maintenance, cheap to call often: compacts storage and builds or updates indexes. Exact
   * answers do not change; an ANN index (semantic collections only) keeps recall@10 ≥ 0.95.
   */
  optimize(ref: CollectionRef, options?: OptimizeOptions): Promise<void>;
  /** Throws when the store cannot be reached (used by `/ready`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
