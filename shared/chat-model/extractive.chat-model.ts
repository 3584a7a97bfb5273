import { terms } from "../embeddings/local.embedding-provider.ts";
import type { ChatAnswer, ChatChunk, ChatModel, ChatRequest, Passage } from "./chat-model.ts";

export const EXTRACTIVE_MODEL = "quarry-extractive-v1";

const sentences = new Intl.Segmenter(undefined, { granularity: "sentence" });

/** The sentences of a passage that share the most terms with the question, in their order. */
export function bestSentences(question: string, passage: string, max = 2): string {
  const wanted = new Set(terms(question));
  const scored = [...sentences.segment(passage)]
    .map(({ segment }, i) => ({ i, text: segment.replace(/\s+/g, " ").trim() }))
    .filter((s) => s.text.length > 0)
    .map((s) => ({ ...s, score: terms(s.text).filter((t) => wanted.has(t)).length }));
  const picked = [...scored].sort((a, b) => b.score - a.score || a.i - b.i).slice(0, max).sort((a, b) => a.i - b.i);
  const text = picked.map((s) => s.text).join(" ");
  return text.length > 600 ? `${text.slice(0, 597)}…` : text;
}

/**
 * The answerer used when no chat model is configured. It does not write prose: it quotes the
 * sentences of the best passages that share most words with the question, each with its
 * citation, and says so (`mode: "extractive"`).
 */
export class ExtractiveChatModel implements ChatModel {
  readonly mode = "extractive" as const;
  readonly model = EXTRACTIVE_MODEL;

  answer(question: string, passages: Passage[]): string {
    if (passages.length === 0) return "";
    const quotes = passages.slice(0, 3).map((p) => `[${p.n}] ${bestSentences(question, p.text)}`);
    return `No language model is configured, so here are the most relevant passages:\n\n${quotes.join("\n\n")}`;
  }

  async complete(request: ChatRequest): Promise<ChatAnswer> {
    return { text: this.answer(request.grounding.question, request.grounding.passages) };
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const text = this.answer(request.grounding.question, request.grounding.passages);
    for (const part of text.split(/(?<=\n\n)/)) yield { delta: part };
  }
}
