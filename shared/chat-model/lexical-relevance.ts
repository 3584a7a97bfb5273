import { terms } from "../embeddings/local.embedding-provider.ts";

const words = (text: string) => new Set(terms(text).filter((t) => !t.includes(" ")));

// Words that ask rather than say what about ("tell me about…", "please explain…"): a passage that
// shares only these with the question is not about it. Run through `terms` so they stem alike.
const REQUEST_WORDS = words(
  "tell please explain know describe show give want like need help find mean something anything briefly short simple words summary summarize question answer",
);

/** The words of a question that say what it is about. */
export function topicWords(question: string): Set<string> {
  return new Set([...words(question)].filter((w) => !REQUEST_WORDS.has(w)));
}

/**
 * The relevance floor for lexical retrieval: a passage counts as found only when it shares at
 * least two of the question's topic words (the only one, for a one-word question). Cosine scores
 * of the local hashed embedder cannot draw this line: on the corpus, passages sharing no word with
 * the question scored up to 0.27 through hash collisions while right answers scored from 0.15, and
 * a single shared word was most often a common one ("many", "open", "like"). See docs/api.md.
 */
export function sharesEnoughWords(topic: Set<string>, passage: string): boolean {
  if (topic.size === 0) return false;
  const present = words(passage);
  let shared = 0;
  for (const w of topic) if (present.has(w) && ++shared >= Math.min(2, topic.size)) return true;
  return false;
}
