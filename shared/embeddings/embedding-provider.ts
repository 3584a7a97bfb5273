import type { EmbeddingSpec } from "../db/collections.repository.ts";

/** Turns texts into vectors. Each collection records the spec it was embedded with. */
export interface EmbeddingProvider {
  readonly spec: EmbeddingSpec;
  /** One vector per input, in order, each of `spec.dimensions` numbers. */
  embed(texts: string[]): Promise<number[][]>;
}

/** One request to an embedding provider, as its observer sees it. */
export interface EmbeddingCall {
  seconds: number;
  inputs: number;
  /** Tokens the provider reported using, when it reports them. */
  tokens?: number;
  /** A failed request: the HTTP status (or `timeout`, `network`) and Quarry's error code. */
  error?: { status: string; code: string };
}

/** Told about every batch a provider embeds and every request it makes (the process's metrics). */
export interface EmbeddingObserver {
  batch(spec: EmbeddingSpec, inputs: number): void;
  request(spec: EmbeddingSpec, call: EmbeddingCall): void;
}
