import { randomUUID } from "node:crypto";
import type { ChatTurn, ChatUsage } from "../chat-model/chat-model.ts";
import { sharesEnoughWords, topicWords } from "../chat-model/lexical-relevance.ts";
import { buildPrompt } from "../chat-model/prompt.ts";
import type { Deps } from "../deps.ts";
import { withTransaction } from "../db/transaction.ts";
import { notFound } from "../errors/app-error.ts";
import type { Filter } from "../vector-store/filter.ts";
import { getCollection } from "./collections.ts";
import { reciprocalRankFusion } from "../retrieval/fusion.ts";
import type { SearchMode } from "../retrieval/search-modes.ts";
import { rerankHits, retrieve, wantsRerank, type SearchHit, type SearchWarning } from "./search.ts";

export const NOTHING_FOUND = "I could not find anything about that in the selected collections.";

export interface ChatInput {
  collectionIds: string[];
  message: string;
  sessionId?: string;
  topK: number;
  temperature: number;
  filter?: Filter;
  /** Default: each collection's own (see `defaultSearchMode`). */
  searchMode?: SearchMode;
  /** Default: on when a reranker is configured. */
  rerank?: boolean;
}

export interface ChatSource {
  n: number;
  collection_id: string;
  document_id: string;
  chunk_index: number;
  title: string | null;
  page?: number;
  heading?: string;
  sheet?: string;
  slide?: number;
  ocr_confidence?: number;
  score: number;
  scores?: SearchHit["scores"];
  text: string;
  metadata: Record<string, unknown>;
}

export function stripCitations(text: string): string {
  return text.replace(/ ?\[\d+\](?:\[\d+\])*/g, "");
}

/** Everything a chat turn needs before the model is called. */
export interface PreparedChat {
  sessionId: string;
  newSession: boolean;
  input: ChatInput;
  sources: ChatSource[];
  messages: ChatTurn[];
  /** About degraded retrieval (a reranker that failed, an incomplete keyword index). */
  warnings: SearchWarning[];
}

export interface ChatRecord {
  session_id: string;
  answer: string;
  sources: ChatSource[];
  model: string;
  mode: "llm" | "extractive";
  usage?: ChatUsage;
}

/**
 * Retrieval and prompt: searches every collection (each with its own embedding model), keeps the
 * best `topK` passages overall, numbers them, and builds a grounded prompt with the session's
 * last `MAX_HISTORY_MESSAGES` messages.
 */
export async function prepareChat(deps: Deps, tenantId: string, input: ChatInput): Promise<PreparedChat> {
  let newSession = true;
  if (input.sessionId) {
    if (!(await deps.chat.getSession(tenantId, input.sessionId))) throw notFound("chat session");
    newSession = false;
  }
  const collectionIds = [...new Set(input.collectionIds)];
  const collections = await Promise.all(collectionIds.map((id) => getCollection(deps, tenantId, id)));
  // Extractive answers quote passages for the words they share with the question, and the local
  // (lexical) embedder scores passages that share none up to ~0.27 through hash collisions: such
  // collections keep only passages above a lexical floor, picked from a wider set of candidates.
  const topic = topicWords(input.message);
  const rerank = wantsRerank(deps, input.rerank);
  const perCollection = await Promise.all(
    collections.map(async (collection) => {
      const floor = deps.chatModel.mode === "extractive" && collection.embedding.provider === "local";
      const wanted = Math.max(rerank ? deps.config.RERANK_CANDIDATES : input.topK, floor ? input.topK * 4 : input.topK);
      const found = await retrieve(deps, collection, { query: input.message, topK: wanted, filter: input.filter, mode: input.searchMode });
      const hits = found.hits.filter((hit) => !floor || sharesEnoughWords(topic, hit.text)).map((hit) => ({ ...hit, id: `${collection.id}:${hit.document_id}:${hit.chunk_index}`, collection_id: collection.id }));
      return { hits, mode: found.mode, model: `${collection.embedding.provider}/${collection.embedding.model}`, warnings: found.warnings };
    }),
  );
  // Scores compare across collections only when they are on one scale: cosines of one embedding
  // model, or fused ranks. BM25 is not (each collection has its own term statistics), nor are
  // different modes or models: those lists are merged by rank.
  const first = perCollection[0]!;
  const comparable =
    perCollection.length === 1 || perCollection.every((c) => c.mode === first.mode && (c.mode === "hybrid" || (c.mode === "vector" && c.model === first.model)));
  const merged = comparable
    ? perCollection.flatMap((c) => c.hits).sort((a, b) => b.score - a.score)
    : reciprocalRankFusion(perCollection.map((c) => ({ items: c.hits, weight: 1 }))).map((e) => e.item);
  const warnings = perCollection.flatMap((c) => c.warnings);
  let chosen = merged.slice(0, input.topK);
  if (rerank) {
    // At most RERANK_CANDIDATES in one call, however many collections contributed.
    const reranked = await rerankHits(deps, input.message, merged.slice(0, Math.max(input.topK, deps.config.RERANK_CANDIDATES)), input.topK);
    chosen = reranked.hits;
    warnings.push(...reranked.warnings);
  }
  const sources = chosen.map(({ id: _id, ...hit }, i) => ({ n: i + 1, ...hit }));
  const history = input.sessionId ? await deps.chat.recentMessages(input.sessionId, deps.config.MAX_HISTORY_MESSAGES) : [];
  // Earlier answers cite earlier sources; their [n] would point at this turn's numbering.
  const turns: ChatTurn[] = history.map((m) => ({ role: m.role, content: m.role === "assistant" ? stripCitations(m.content) : m.content }));
  return {
    sessionId: input.sessionId ?? randomUUID(),
    newSession,
    input: { ...input, collectionIds },
    sources,
    messages: buildPrompt(sources, turns, input.message),
    warnings,
  };
}

/** Stores the question and the answer (with its sources) in the session, creating it if new. */
export async function saveExchange(deps: Deps, tenantId: string, prepared: PreparedChat, record: ChatRecord): Promise<void> {
  await withTransaction(deps.db, async (tx) => {
    if (prepared.newSession) await tx.chat.createSession({ id: prepared.sessionId, tenantId, collectionIds: prepared.input.collectionIds });
    else await tx.chat.touchSession(prepared.sessionId, prepared.input.collectionIds);
    await tx.chat.addMessage({ sessionId: prepared.sessionId, role: "user", content: prepared.input.message });
    await tx.chat.addMessage({
      sessionId: prepared.sessionId,
      role: "assistant",
      content: record.answer,
      sources: record.sources,
      model: record.model,
      mode: record.mode,
      usage: record.usage,
    });
  });
}

export function chatRequest(prepared: PreparedChat, signal?: AbortSignal) {
  return {
    messages: prepared.messages,
    grounding: { question: prepared.input.message, passages: prepared.sources.map((s) => ({ n: s.n, text: s.text })) },
    temperature: prepared.input.temperature,
    signal,
  };
}

/** One non-streaming chat turn. With no passages found the model is not asked: nothing is invented. */
export async function chat(deps: Deps, tenantId: string, input: ChatInput, signal?: AbortSignal): Promise<ChatRecord & { warnings?: SearchWarning[] }> {
  const prepared = await prepareChat(deps, tenantId, input);
  const { chatModel } = deps;
  const answer = prepared.sources.length === 0 ? { text: NOTHING_FOUND, usage: undefined } : await chatModel.complete(chatRequest(prepared, signal));
  const record: ChatRecord = {
    session_id: prepared.sessionId,
    answer: answer.text,
    sources: prepared.sources,
    model: chatModel.model,
    mode: chatModel.mode,
    ...(answer.usage ? { usage: answer.usage } : {}),
  };
  await saveExchange(deps, tenantId, prepared, record);
  return { ...record, ...(prepared.warnings.length > 0 ? { warnings: prepared.warnings } : {}) };
}
