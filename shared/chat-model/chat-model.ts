/** A message of a chat completion request. */
export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A retrieved passage, as numbered in the prompt and cited in the answer: [n]. */
export interface Passage {
  n: number;
  text: string;
}

export interface ChatRequest {
  /** The full prompt: instructions with the numbered sources, the history, the question. */
  messages: ChatTurn[];
  /** The same question and sources, structured (the extractive answerer works from these). */
  grounding: { question: string; passages: Passage[] };
  temperature: number;
  /** Aborts the provider call (the HTTP client went away). */
  signal?: AbortSignal;
}

/** What `stream` yields: text as it arrives, then (once) the usage if the provider reports it. */
export type ChatChunk = { delta: string } | { usage: ChatUsage };

export interface ChatAnswer {
  text: string;
  usage?: ChatUsage;
}

/** A free-form completion (a workflow's `llm` step): no retrieval, an optional JSON Schema for the answer. */
export interface GenerateRequest {
  messages: ChatTurn[];
  temperature: number;
  /** The model to ask instead of CHAT_MODEL. */
  model?: string;
  maxTokens?: number;
  /** Asked of the model as structured output (`response_format: json_schema`); the caller validates the answer. */
  jsonSchema?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface GenerateAnswer extends ChatAnswer {
  model: string;
}

/**
 * The chat model port. `llm` adapters call a model; the `extractive` one answers with the best
 * passages and never pretends to be a model.
 */
export interface ChatModel {
  readonly mode: "llm" | "extractive";
  readonly model: string;
  complete(request: ChatRequest): Promise<ChatAnswer>;
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
  /** Only `llm` adapters can write free text; the extractive answerer has nothing to say without passages. */
  generate?(request: GenerateRequest): Promise<GenerateAnswer>;
}
