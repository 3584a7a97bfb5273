import type { Config } from "../config/env.ts";
import type { EmbeddingSpec } from "../db/collections.repository.ts";
import { AppError } from "../errors/app-error.ts";
import type { EmbeddingProvider } from "./embedding-provider.ts";
import { LOCAL_DIMENSIONS, LOCAL_MODEL, LocalEmbeddingProvider } from "./local.embedding-provider.ts";

/**
 * Builds the embedding provider a collection was created with, caching one instance per spec.
 * New providers (OpenAI-compatible, …) register here.
 */
export class Embedders {
  private readonly cache = new Map<string, EmbeddingProvider>();
  private readonly config: Config;

  constructor(config: Config) {
    this.config = config;
  }

  /** The spec new collections get when they name none. */
  defaultSpec(): EmbeddingSpec {
    return { provider: "local", model: LOCAL_MODEL, dimensions: LOCAL_DIMENSIONS };
  }

  /** Fills in a partial spec and checks this deployment can serve it. */
  resolve(requested: Partial<EmbeddingSpec> | undefined): EmbeddingSpec {
    const spec = { ...this.defaultSpec(), ...requested };
    if (spec.provider === "local") {
      if (spec.model !== LOCAL_MODEL) {
        throw new AppError("EMBEDDING_MODEL_UNSUPPORTED", `the local provider has one model, "${LOCAL_MODEL}"`, { httpStatus: 422 });
      }
      return spec;
    }
    throw new AppError("EMBEDDING_PROVIDER_UNAVAILABLE", `embedding provider "${spec.provider}" is not configured on this deployment`, {
      httpStatus: 422,
    });
  }

  for(spec: EmbeddingSpec): EmbeddingProvider {
    const key = `${spec.provider}/${spec.model}/${spec.dimensions}`;
    let provider = this.cache.get(key);
    if (!provider) {
      if (spec.provider !== "local") this.resolve(spec);
      provider = new LocalEmbeddingProvider(spec.dimensions);
      this.cache.set(key, provider);
    }
    return provider;
  }
}
