/**
 * Quarry's own local embedder (feature hashing, no network) as a LangChain `Embeddings`, so the
 * peer pipeline spends exactly what Quarry spends on embedding. Imported from Quarry's source by
 * relative path, not copied: the file has only type imports, so nothing else of Quarry loads.
 */
import { Embeddings } from "@langchain/core/embeddings";
import { LocalEmbeddingProvider } from "../../shared/embeddings/local.embedding-provider.ts";

export class QuarryLocalEmbeddings extends Embeddings {
  private readonly provider = new LocalEmbeddingProvider();

  constructor() {
    super({});
  }

  embedDocuments(texts: string[]): Promise<number[][]> {
    return this.provider.embed(texts);
  }

  async embedQuery(text: string): Promise<number[]> {
    const [vector] = await this.provider.embed([text]);
    return vector!;
  }
}
