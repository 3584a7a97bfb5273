import type { EmbeddingSpec } from "../db/collections.repository.ts";

/** Turns texts into vectors. Each collection records the spec it was embedded with. */
export interface EmbeddingProvider {
  readonly spec: EmbeddingSpec;
  /** One vector per input, in order, each of `spec.dimensions` numbers. */
  embed(texts: string[]): Promise<number[][]>;
}
