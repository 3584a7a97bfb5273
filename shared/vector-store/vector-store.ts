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
}

export interface ScoredPoint {
  id: string;
  documentId: string;
  chunkIndex: number;
  /** Cosine similarity, higher is closer (1 = same direction). */
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
  scoreThreshold?: number;
}

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
  /** Maintenance, cheap to call often: compacts storage and builds or updates indexes. Answers do not change. */
  optimize(ref: CollectionRef): Promise<void>;
  /** Throws when the store cannot be reached (used by `/ready`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
