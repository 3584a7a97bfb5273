import type OpenAI from "openai";
import { providerError } from "../embeddings/openai-errors.ts";
import { AppError } from "../errors/app-error.ts";
import type { ChatAnswer, ChatChunk, ChatModel, ChatRequest, ChatUsage, GenerateAnswer, GenerateRequest } from "./chat-model.ts";

/**
 * Chat completions from any OpenAI-compatible endpoint through the official SDK (which times out
 * and retries 429/5xx per the client's settings). Errors map to CHAT_PROVIDER_TIMEOUT (504),
 * CHAT_RATE_LIMITED (429 + Retry-After), … .
 */
export class OpenAIChatModel implements ChatModel {
  readonly mode = "llm" as const;
  readonly model: string;
  private readonly client: OpenAI;
  private readonly idleTimeoutMs: number;

  /** `idleTimeoutMs`: a stream that sends nothing for this long is given up (the SDK's own timeout ends at the headers). */
  constructor(client: OpenAI, model: string, idleTimeoutMs = 60_000) {
    this.client = client;
    this.model = model;
    this.idleTimeoutMs = idleTimeoutMs;
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

  async generate(request: GenerateRequest): Promise<GenerateAnswer> {
    const model = request.model ?? this.model;
    try {
      const response = await this.client.chat.completions.create(
        {
          model,
          messages: request.messages,
          temperature: request.temperature,
          ...(request.maxTokens ? { max_tokens: request.maxTokens } : {}),
          ...(request.jsonSchema ? { response_format: { type: "json_schema", json_schema: { name: "answer", schema: request.jsonSchema } } } : {}),
        },
        { signal: request.signal },
      );
      return { text: response.choices[0]?.message?.content ?? "", model: response.model || model, usage: response.usage ? pickUsage(response.usage) : undefined };
    } catch (err) {
      throw providerError(err, "chat");
    }
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const idle = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), this.idleTimeoutMs);
    };
    const signal = request.signal ? AbortSignal.any([request.signal, idle.signal]) : idle.signal;
    const timedOut = () =>
      new AppError("CHAT_PROVIDER_TIMEOUT", `the chat provider sent nothing for ${Math.round(this.idleTimeoutMs / 1000)} s`, {
        httpStatus: 504,
        retryable: true,
        retryAfter: 5,
      });
    arm();
    try {
      let stream: AsyncIterable<OpenAI.ChatCompletionChunk>;
      try {
        stream = await this.client.chat.completions.create(
          { model: this.model, messages: request.messages, temperature: request.temperature, stream: true, stream_options: { include_usage: true } },
          { signal },
        );
      } catch (err) {
        throw idle.signal.aborted ? timedOut() : providerError(err, "chat");
      }
      try {
        for await (const chunk of stream) {
          arm();
          const delta = chunk.choices[0]?.delta?.content;
          if (delta) yield { delta };
          if (chunk.usage) yield { usage: pickUsage(chunk.usage) };
        }
      } catch (err) {
        throw idle.signal.aborted ? timedOut() : providerError(err, "chat");
      }
      // The SDK ends an aborted stream quietly: a stalled answer must not pass for a complete one.
      if (idle.signal.aborted) throw timedOut();
    } finally {
      clearTimeout(timer);
    }
  }
}

function pickUsage(usage: OpenAI.CompletionUsage): ChatUsage {
  return { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens };
}
