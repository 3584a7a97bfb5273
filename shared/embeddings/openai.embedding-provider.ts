import OpenAI from "openai";
import type { EmbeddingSpec } from "../db/collections.repository.ts";
import { AppError } from "../errors/app-error.ts";
import { countTokens } from "../parsing/tokenizer.ts";
import type { EmbeddingProvider } from "./embedding-provider.ts";
import { providerError } from "./openai-errors.ts";

/** OpenAI's limits per embeddings request. */
export const MAX_INPUTS_PER_REQUEST = 2048;
export const MAX_TOKENS_PER_REQUEST = 300_000;

/** Models that take a `dimensions` parameter (shortened embeddings). */
export const SHORTENABLE = /^text-embedding-3-/;

export interface OpenAIClientOptions {
  apiKey: string;
  baseURL?: string;
  timeoutMs: number;
  maxRetries: number;
}

export function createOpenAIClient(options: OpenAIClientOptions): OpenAI {
  return new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, timeout: options.timeoutMs, maxRetries: options.maxRetries });
}

/**
 * Embeddings from any OpenAI-compatible endpoint (OpenAI, Azure-compatible gateways, Ollama,
 * vLLM …) through the official SDK. Inputs are split into requests within OpenAI's limits; the
 * SDK retries 429/5xx honouring Retry-After, then errors map to retryable or permanent AppErrors.
 */
export class OpenAIEmbeddingProvider implements EmbeddingProvider {
  readonly spec: EmbeddingSpec;
  private readonly client: OpenAI;

  constructor(client: OpenAI, spec: EmbeddingSpec) {
    this.client = client;
    this.spec = spec;
  }

  async embed(texts: string[]): Promise<number[][]> {
    const out: number[][] = [];
    for (const batch of requestBatches(texts)) {
      let response: OpenAI.CreateEmbeddingResponse;
      try {
        response = await this.client.embeddings.create({
          model: this.spec.model,
          input: batch,
          ...(SHORTENABLE.test(this.spec.model) ? { dimensions: this.spec.dimensions } : {}),
        });
      } catch (err) {
        throw providerError(err, "embedding");
      }
      const vectors = [...response.data].sort((a, b) => a.index - b.index).map((d) => d.embedding as number[]);
      if (vectors.length !== batch.length || vectors.some((v) => v.length !== this.spec.dimensions)) {
        throw new AppError(
          "EMBEDDING_DIMENSIONS_MISMATCH",
          `the provider returned ${vectors.length} vectors of ${vectors[0]?.length ?? 0} dimensions; expected ${batch.length} of ${this.spec.dimensions}`,
          { httpStatus: 502 },
        );
      }
      out.push(...vectors);
    }
    return out;
  }
}

/** Splits inputs into requests of at most 2048 inputs and 300k tokens. */
export function requestBatches(texts: string[], maxInputs = MAX_INPUTS_PER_REQUEST, maxTokens = MAX_TOKENS_PER_REQUEST): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let tokens = 0;
  for (const text of texts) {
    const n = countTokens(text);
    if (current.length > 0 && (current.length >= maxInputs || tokens + n > maxTokens)) {
      batches.push(current);
      current = [];
      tokens = 0;
    }
    current.push(text);
    tokens += n;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
