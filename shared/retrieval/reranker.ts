import { z } from "zod";

/** A reranked candidate: its position in the list given, and the model's relevance score. */
export interface RerankResult {
  index: number;
  score: number;
}

export interface Reranker {
  readonly model: string;
  /** The candidates' indexes, most relevant first, at most `topN`. Throws when the service fails. */
  rerank(query: string, documents: string[], topN: number, signal?: AbortSignal): Promise<RerankResult[]>;
}

/** Jina's and Cohere's `/v1/rerank` answer: `{results: [{index, relevance_score}, …]}` (Cohere v1 also sends `document`). */
const rerankResponse = z.object({
  results: z.array(z.object({ index: z.int().min(0), relevance_score: z.number() })),
});

export class RerankError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RerankError";
  }
}

/**
 * Any Jina- or Cohere-compatible rerank endpoint (Jina, Cohere, Voyage, TEI, Infinity, vLLM, …):
 * `POST {RERANK_URL}` with `{model, query, documents, top_n}`. `url` is the full endpoint, e.g.
 * `https://api.jina.ai/v1/rerank`; a base URL without a path gets `/v1/rerank`. The operator
 * configures it, so it is not subject to the outbound guard (like OPENAI_BASE_URL).
 */
export class HttpReranker implements Reranker {
  readonly model: string;
  private readonly url: string;
  private readonly apiKey?: string;
  private readonly timeoutMs: number;

  constructor(options: { url: string; model: string; apiKey?: string; timeoutMs: number }) {
    const url = new URL(options.url);
    if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1/rerank";
    this.url = url.toString();
    this.model = options.model;
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs;
  }

  /** The endpoint without credentials or query, for logs and warnings. */
  get origin(): string {
    return new URL(this.url).origin;
  }

  async rerank(query: string, documents: string[], topN: number, signal?: AbortSignal): Promise<RerankResult[]> {
    if (documents.length === 0) return [];
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) },
        body: JSON.stringify({ model: this.model, query, documents, top_n: Math.min(topN, documents.length), return_documents: false }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (timeout.aborted) throw new RerankError(`the reranker did not answer within ${this.timeoutMs} ms`, { cause: err });
      // Not the error's message: it may quote the URL. Its code (ECONNREFUSED, ENOTFOUND …) says enough.
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new RerankError(`the reranker could not be reached (${code})`, { cause: err });
    }
    const text = await res.text().catch(() => "");
    if (!res.ok) throw new RerankError(`the reranker answered ${res.status}`);
    let parsed: z.infer<typeof rerankResponse>;
    try {
      parsed = rerankResponse.parse(JSON.parse(text));
    } catch {
      throw new RerankError("the reranker's answer is not a rerank response ({results: [{index, relevance_score}]})");
    }
    // Jina and Cohere answer top_n results: fewer would silently drop candidates.
    const expected = Math.min(topN, documents.length);
    if (parsed.results.length < expected) throw new RerankError(`the reranker answered ${parsed.results.length} results for ${expected} asked`);
    const seen = new Set<number>();
    const results: RerankResult[] = [];
    for (const r of parsed.results) {
      if (r.index >= documents.length || seen.has(r.index)) throw new RerankError(`the reranker's answer names candidate ${r.index}, which was not sent or came twice`);
      seen.add(r.index);
      results.push({ index: r.index, score: r.relevance_score });
    }
    return results.sort((a, b) => b.score - a.score).slice(0, topN);
  }
}
