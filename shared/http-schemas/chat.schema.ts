import { z } from "zod";
import { timestamp, uuid } from "./common.schema.ts";
import { searchHit, searchWarning } from "./search.schema.ts";

/** A numbered passage the answer cites as `[n]`. */
export const chatSource = searchHit.extend({ n: z.int().min(1), collection_id: uuid, scores: searchHit.shape.scores.optional().describe("absent on answers stored before hybrid search") });

export const chatUsage = z.object({
  prompt_tokens: z.int().min(0),
  completion_tokens: z.int().min(0),
  total_tokens: z.int().min(0),
});

const mode = z.enum(["llm", "extractive"]).describe("extractive: no language model wrote anything; the answer quotes the passages");

export const chatAnswer = z.object({
  session_id: uuid,
  answer: z.string(),
  sources: z.array(chatSource),
  model: z.string(),
  mode,
  usage: chatUsage.optional().describe("when the model reports it"),
  warnings: z.array(searchWarning).optional().describe("present when retrieval was degraded (a failed reranker, an incomplete keyword index)"),
});

export const chatMessage = z.object({
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  sources: z.array(chatSource).optional(),
  model: z.string().optional(),
  mode: mode.optional(),
  usage: chatUsage.optional(),
  created_at: timestamp,
});

export const chatSession = z.object({
  id: uuid,
  collection_ids: z.array(uuid),
  created_at: timestamp,
  messages: z.array(chatMessage).describe("the latest 200, oldest first"),
});

/** The events of a streamed answer (`stream: true`): `sources`, `delta`…, then `done` or `error`. */
export const chatSourcesEvent = z.object({ session_id: uuid, sources: z.array(chatSource) });
export const chatDeltaEvent = z.object({ content: z.string() });
