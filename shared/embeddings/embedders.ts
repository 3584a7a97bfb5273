import type OpenAI from "openai";
import type { Config } from "../config/env.ts";
import type { EmbeddingSpec } from "../db/collections.repository.ts";
import { AppError } from "../errors/app-error.ts";
import type { EmbeddingObserver, EmbeddingProvider } from "./embedding-provider.ts";
import { LOCAL_DIMENSIONS, LOCAL_MODEL, LocalEmbeddingProvider } from "./local.embedding-provider.ts";
import { providerError } from "./openai-errors.ts";
import { createOpenAIClient, OpenAIEmbeddingProvider, SHORTENABLE } from "./openai.embedding-provider.ts";

/** Native dimensions of well-known OpenAI models; other models are asked once (a probe). */
const KNOWN_DIMENSIONS: Record<string, number> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};

const unavailable = (provider: string) =>
  new AppError("EMBEDDING_PROVIDER_UNAVAILABLE", `embedding provider "${provider}" is not configured on this deployment`, { httpStatus: 422 });

/**
 * Builds the embedding provider a collection was created with, one instance per spec. `local`
 * is always there; `openai` (any OpenAI-compatible endpoint) when OPENAI_API_KEY is set.
 */
const MAX_CACHED_PROVIDERS = 32;

export class Embedders {
  private readonly cache = new Map<string, EmbeddingProvider>();
  /** Recent query vectors, least recently used first (see `embedQuery`). */
  private readonly queries = new Map<string, number[]>();
  /** Native dimensions learnt by probing, per model: asked once per process. */
  private readonly probed = new Map<string, Promise<number>>();
  private readonly config: Config;
  private readonly observer?: EmbeddingObserver;
  private client?: OpenAI;

  /** `observer` hears of every batch and provider request (the process's metrics). */
  constructor(config: Config, observer?: EmbeddingObserver) {
    this.config = config;
    this.observer = observer;
  }

  private openai(): OpenAI {
    if (!this.config.OPENAI_API_KEY) throw unavailable("openai");
    this.client ??= createOpenAIClient({
      apiKey: this.config.OPENAI_API_KEY,
      baseURL: this.config.OPENAI_BASE_URL,
      timeoutMs: this.config.OPENAI_TIMEOUT_MS,
      maxRetries: this.config.OPENAI_MAX_RETRIES,
    });
    return this.client;
  }

  /** The provider new collections get when they name none: OpenAI when a key is configured. */
  defaultProvider(): string {
    return this.config.OPENAI_API_KEY ? "openai" : "local";
  }

  /** Completes a requested spec (model, dimensions) and checks this deployment can serve it. */
  async resolve(requested: Partial<EmbeddingSpec> | undefined): Promise<EmbeddingSpec> {
    const provider = requested?.provider ?? this.defaultProvider();
    if (provider === "local") {
      const model = requested?.model ?? LOCAL_MODEL;
      if (model !== LOCAL_MODEL) {
        throw new AppError("EMBEDDING_MODEL_UNSUPPORTED", `the local provider has one model, "${LOCAL_MODEL}"`, { httpStatus: 422 });
      }
      return { provider, model, dimensions: requested?.dimensions ?? LOCAL_DIMENSIONS };
    }
    if (provider !== "openai") {
      throw new AppError("EMBEDDING_PROVIDER_UNSUPPORTED", `unknown embedding provider "${provider}"; use "local" or "openai"`, { httpStatus: 422 });
    }
    this.openai();
    const model = requested?.model ?? this.config.EMBEDDING_MODEL;
    const configured = model === this.config.EMBEDDING_MODEL ? this.config.EMBEDDING_DIMENSIONS : undefined;
    const native = () => configured ?? KNOWN_DIMENSIONS[model] ?? this.probeDimensions(model);
    if (requested?.dimensions !== undefined && !SHORTENABLE.test(model)) {
      // Only text-embedding-3 models can shorten their vectors; others have one size.
      const size = await native();
      if (size !== requested.dimensions) {
        throw new AppError("EMBEDDING_DIMENSIONS_UNSUPPORTED", `"${model}" makes vectors of ${size} dimensions, not ${requested.dimensions}`, { httpStatus: 422 });
      }
    }
    return { provider, model, dimensions: requested?.dimensions ?? (await native()) };
  }

  /** Asks the endpoint for one embedding to learn a model's dimensions (Ollama, vLLM models …). */
  private probeDimensions(model: string): Promise<number> {
    let probe = this.probed.get(model);
    if (!probe) {
      probe = (async () => {
        try {
          const response = await this.openai().embeddings.create({ model, input: ["dimension probe"] });
          const dimensions = (response.data[0]?.embedding as number[] | undefined)?.length;
          if (dimensions) return dimensions;
        } catch (err) {
          throw providerError(err, "embedding");
        }
        throw new AppError("EMBEDDING_DIMENSIONS_UNKNOWN", `could not learn the dimensions of "${model}"; pass embedding.dimensions`, { httpStatus: 422 });
      })();
      this.probed.set(model, probe);
      probe.catch(() => this.probed.delete(model)); // a failed probe is asked again next time
    }
    return probe;
  }

  /**
   * One search query's vector, from a per-process LRU cache of the last QUERY_EMBEDDING_CACHE
   * queries (all models together; ~6 KB each at 1536 dimensions): a repeated query (a retried request, a popular question, the same question
   * asked of several collections with one model) costs no provider call and no wait.
   */
  async embedQuery(spec: EmbeddingSpec, text: string): Promise<number[]> {
    const size = this.config.QUERY_EMBEDDING_CACHE;
    const key = `${spec.provider}/${spec.model}/${spec.dimensions}\n${text}`;
    const cached = this.queries.get(key);
    if (cached) {
      // Map order is insertion order: re-inserting makes this the most recently used.
      this.queries.delete(key);
      this.queries.set(key, cached);
      return cached;
    }
    const [vector] = await this.for(spec).embed([text]);
    if (size > 0) {
      if (this.queries.size >= size) this.queries.delete(this.queries.keys().next().value!);
      this.queries.set(key, vector!);
    }
    return vector!;
  }

  for(spec: EmbeddingSpec): EmbeddingProvider {
    const key = `${spec.provider}/${spec.model}/${spec.dimensions}`;
    let provider = this.cache.get(key);
    if (!provider) {
      if (spec.provider === "local") provider = new LocalEmbeddingProvider(spec.dimensions, this.observer);
      else if (spec.provider === "openai") provider = new OpenAIEmbeddingProvider(this.openai(), spec, this.observer);
      else throw unavailable(spec.provider);
      // Specs come from collections and from /v1/embeddings requests: keep the cache bounded.
      if (this.cache.size >= MAX_CACHED_PROVIDERS) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, provider);
    }
    return provider;
  }
}
