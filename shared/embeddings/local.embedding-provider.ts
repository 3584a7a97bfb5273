import type { EmbeddingSpec } from "../db/collections.repository.ts";
import type { EmbeddingObserver, EmbeddingProvider } from "./embedding-provider.ts";

export const LOCAL_MODEL = "quarry-hash-v1";
export const LOCAL_DIMENSIONS = 384;

const WORD = /[\p{L}\p{N}]+/gu;
// Scripts written without spaces: index character bigrams instead of whole runs.
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}]/u;

/**
 * A term's stable 32-bit hash: FNV-1a with Murmur3's finaliser. Stored data depends on it — the
 * local embedder's vectors and the Qdrant keyword index's sparse indices — so it must never change
 * (test/unit/bm25-sparse.test.ts pins values).
 */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // Murmur3's finaliser spreads FNV's weak low bits over the whole word.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Words too common to say anything about a passage (English); they would drown the rare ones. */
const STOP_WORDS = new Set(
  `a about above after again against all am an and any are as at be because been before being below between both but by can could
did do does doing down during each few for from further had has have having he her here hers herself him himself his how i if in
into is it its itself just me more most my myself no nor not now of off on once only or other our ours ourselves out over own same
she should so some such than that the their theirs them themselves then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your yours yourself yourselves`.split(/\s+/),
);

/** A light English suffix strip ("stores", "stored", "storing" → "stor"), enough for lexical matching. */
function stem(word: string): string {
  if (word.length <= 4 || !/^[a-z]+$/.test(word)) return word;
  return word.replace(/(ing|ed|es|s|e)$/, "");
}

/**
 * Lower-cased, NFKC-normalised terms: words (English stop words dropped, light suffix stripping),
 * pairs of adjacent words, and character bigrams for CJK runs.
 */
export function terms(text: string): string[] {
  const words = text.normalize("NFKC").toLowerCase().match(WORD) ?? [];
  const out: string[] = [];
  let previous: string | undefined;
  for (const word of words) {
    if (CJK.test(word)) {
      const chars = [...word];
      if (chars.length === 1) out.push(word);
      for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
      previous = undefined;
      continue;
    }
    if (STOP_WORDS.has(word)) {
      previous = undefined;
      continue;
    }
    const term = stem(word);
    out.push(term);
    if (previous) out.push(`${previous} ${term}`);
    previous = term;
  }
  return out;
}

/**
 * A deterministic embedder that needs no network or model: feature hashing of words and word
 * bigrams, sub-linear term frequency, L2-normalised. It is **lexical, not semantic**: texts that
 * share words score high, synonyms do not. Use an OpenAI-compatible provider for real semantics.
 */
export class LocalEmbeddingProvider implements EmbeddingProvider {
  readonly spec: EmbeddingSpec;
  private readonly observer?: EmbeddingObserver;

  constructor(dimensions = LOCAL_DIMENSIONS, observer?: EmbeddingObserver) {
    this.spec = { provider: "local", model: LOCAL_MODEL, dimensions };
    this.observer = observer;
  }

  async embed(texts: string[]): Promise<number[][]> {
    const started = performance.now();
    const vectors = texts.map((text) => this.embedOne(text));
    // Computed here, so the batch is its one request.
    this.observer?.batch(this.spec, texts.length);
    this.observer?.request(this.spec, { seconds: (performance.now() - started) / 1000, inputs: texts.length });
    return vectors;
  }

  private embedOne(text: string): number[] {
    const counts = new Map<string, number>();
    for (const term of terms(text)) counts.set(term, (counts.get(term) ?? 0) + 1);
    const vector = new Float64Array(this.spec.dimensions);
    for (const [term, count] of counts) {
      const hash = fnv1a(term);
      const weight = (1 + Math.log(count)) * (term.includes(" ") ? 0.5 : 1);
      vector[hash % this.spec.dimensions]! += hash & 0x80000000 ? -weight : weight;
    }
    let norm = 0;
    for (const v of vector) norm += v * v;
    norm = Math.sqrt(norm);
    // An empty text gets a fixed unit vector rather than NaNs.
    if (norm === 0) return Array.from(vector, (_, i) => (i === 0 ? 1 : 0));
    return Array.from(vector, (v) => v / norm);
  }
}
