import type OpenAI from "openai";
import { providerError } from "../embeddings/openai-errors.ts";
import type { ChatAnswer, ChatChunk, ChatModel, ChatRequest, ChatUsage } from "./chat-model.ts";

/**
 * Chat completions from any OpenAI-compatible endpoint through the official SDK (which times out
 * and retries 429/5xx per the client's settings). Errors map to CHAT_PROVIDER_TIMEOUT (504),
 * CHAT_RATE_LIMITED (429 + Retry-After), … .
 */
export class OpenAIChatModel implements ChatModel {
  readonly mode = "llm" as const;
  readonly model: string;
  private readonly client: OpenAI;

  constructor(client: OpenAI, model: string) {
    this.client = client;
    this.model = model;
  }

  async complete(request: ChatRequest): Promise<ChatAnswer> {
    try {
      const response = await this.client.chat.completions.create(
        { model: this.model, messages: request.messages, temperature: request.temperature },
        { signal: request.signal },
      );
      return { text: response.choices[0]?.message?.content ?? "", usage: response.usage ? pickUsage(response.usage) : undefined };
    } catch (err) {
      throw providerError(err, "chat");
    }
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    let stream: AsyncIterable<OpenAI.ChatCompletionChunk>;
    try {
      stream = await this.client.chat.completions.create(
        { model: this.model, messages: request.messages, temperature: request.temperature, stream: true, stream_options: { include_usage: true } },
        { signal: request.signal },
      );
    } catch (err) {
      throw providerError(err, "chat");
    }
    try {
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta?.content;
        if (delta) yield { delta };
        if (chunk.usage) yield { usage: pickUsage(chunk.usage) };
      }
    } catch (err) {
      throw providerError(err, "chat");
    }
  }
}

function pickUsage(usage: OpenAI.CompletionUsage): ChatUsage {
  return { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens };
}
