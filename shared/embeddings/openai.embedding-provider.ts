import OpenAI from "openai";
import type { EmbeddingSpec } from "../db/collections.repository.ts";
import { AppError } from "../errors/app-error.ts";
import { countTokens } from "../parsing/tokenizer.ts";
import type { EmbeddingCall, EmbeddingObserver, EmbeddingProvider } from "./embedding-provider.ts";
import { providerError, providerStatus } from "./openai-errors.ts";

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
  private readonly observer?: EmbeddingObserver;

  constructor(client: OpenAI, spec: EmbeddingSpec, observer?: EmbeddingObserver) {
    this.client = client;
    this.spec = spec;
    this.observer = observer;
  }

  async embed(texts: string[]): Promise<number[][]> {
    this.observer?.batch(this.spec, texts.length);
    const out: number[][] = [];
    for (const batch of requestBatches(texts)) {
      let response: OpenAI.CreateEmbeddingResponse;
      const started = performance.now();
      const observe = (call: Pick<EmbeddingCall, "tokens" | "error">) =>
        this.observer?.request(this.spec, { seconds: (performance.now() - started) / 1000, inputs: batch.length, ...call });
      try {
        response = await this.client.embeddings.create({
          model: this.spec.model,
          input: batch,
          ...(SHORTENABLE.test(this.spec.model) ? { dimensions: this.spec.dimensions } : {}),
        });
      } catch (err) {
        const mapped = providerError(err, "embedding");
        observe({ error: { status: providerStatus(err), code: mapped.code } });
        throw mapped;
      }
      const vectors = [...response.data].sort((a, b) => a.index - b.index).map((d) => d.embedding as number[]);
      if (vectors.length !== batch.length || vectors.some((v) => v.length !== this.spec.dimensions)) {
        observe({ error: { status: "200", code: "EMBEDDING_DIMENSIONS_MISMATCH" } });
        throw new AppError(
          "EMBEDDING_DIMENSIONS_MISMATCH",
          `the provider returned ${vectors.length} vectors of ${vectors[0]?.length ?? 0} dimensions; expected ${batch.length} of ${this.spec.dimensions}`,
          { httpStatus: 502 },
        );
      }
      observe({ tokens: response.usage?.prompt_tokens ?? response.usage?.total_tokens });
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
