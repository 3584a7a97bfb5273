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
   * Writes a consistent copy of one generation's points (vectors, ids, payloads) into `dir`, for
   * backups. Returns how many points it holds.
   */
  snapshot(ref: CollectionRef, dir: string): Promise<{ points: number }>;
  /** Replaces the generation's points with those of a snapshot written by `snapshot(ref, dir)`. */
  restore(ref: CollectionRef, dir: string): Promise<void>;
  /** Maintenance, cheap to call often: compacts storage and builds or updates indexes. Answers do not change. */
  optimize(ref: CollectionRef): Promise<void>;
  /** Throws when the store cannot be reached (used by `/ready`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
