import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { LocalEmbeddingProvider } from "../../shared/embeddings/local.embedding-provider.ts";

/** A scripted failure: answer the next matching request with this status, headers and body. */
export interface StubFailure {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface RecordedRequest {
  path: string;
  body: Record<string, unknown>;
  authorization?: string;
}

/**
 * A local OpenAI-compatible server for tests, driven through the real `openai` SDK: `/v1/embeddings`
 * (float or base64, deterministic vectors from the lexical embedder, `dimensions` honoured) and
 * `/v1/chat/completions` (plain and streaming). Failures can be queued per path.
 */
export class OpenAIStub {
  readonly requests: RecordedRequest[] = [];
  private readonly failures = new Map<string, StubFailure[]>();
  private server?: Server;
  url = "";
  /** Dimensions of a model's vectors when the request names none. */
  nativeDimensions = 64;
  /** Delay before answering embedding requests (ms). */
  embeddingDelayMs = 0;
  /** Delay before answering chat requests (ms). */
  chatDelayMs = 0;
  /** Delay between streamed words (ms). */
  streamWordDelayMs = 0;
  /** Chat streams the client closed before the stub finished them. */
  abortedStreams = 0;
  /**
   * Chosen vectors for some inputs (e.g. a benchmark's held-out queries): a text it answers with a
   * vector gets that vector; every other text gets the lexical embedder's, as without it.
   */
  embeddingFor?: (input: string, dimensions: number) => number[] | undefined;
  /** Reply text of the chat model, or a function of the request's messages (and the whole request body: model, response_format…). */
  chatReply: string | ((messages: Array<{ role: string; content: string }>, body: Record<string, unknown>) => string) = "stub answer [1]";

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Queues failures for the next requests to `path` (e.g. "/v1/embeddings"). */
  fail(path: string, ...failures: StubFailure[]): void {
    this.failures.set(path, [...(this.failures.get(path) ?? []), ...failures]);
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
    const path = (req.url ?? "").split("?")[0]!;
    this.requests.push({ path, body, authorization: req.headers.authorization });
    const failure = this.failures.get(path)?.shift();
    if (failure) {
      res.writeHead(failure.status, { "content-type": "application/json", ...failure.headers });
      res.end(JSON.stringify(failure.body ?? { error: { message: `stub failure ${failure.status}`, type: "stub_error" } }));
      return;
    }
    if (path === "/v1/embeddings") return this.embeddings(body, res);
    if (path === "/v1/chat/completions") return this.chat(body, res);
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `no route ${path}` } }));
  }

  private async embeddings(body: Record<string, unknown>, res: ServerResponse) {
    if (this.embeddingDelayMs) await new Promise((r) => setTimeout(r, this.embeddingDelayMs));
    const input = Array.isArray(body.input) ? (body.input as string[]) : [String(body.input)];
    const dimensions = typeof body.dimensions === "number" ? body.dimensions : this.nativeDimensions;
    const lexical = await new LocalEmbeddingProvider(dimensions).embed(input);
    const vectors = input.map((text, i) => this.embeddingFor?.(text, dimensions) ?? lexical[i]!);
    const base64 = body.encoding_format === "base64";
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        object: "list",
        model: body.model,
        data: vectors.map((v, index) => ({
          object: "embedding",
          index,
          embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v,
        })),
        usage: { prompt_tokens: input.join(" ").split(/\s+/).length, total_tokens: input.join(" ").split(/\s+/).length },
      }),
    );
  }

  private async chat(body: Record<string, unknown>, res: ServerResponse) {
    const messages = body.messages as Array<{ role: string; content: string }>;
    const reply = typeof this.chatReply === "function" ? this.chatReply(messages, body) : this.chatReply;
    if (this.chatDelayMs) await new Promise((r) => setTimeout(r, this.chatDelayMs));
    const usage = { prompt_tokens: 10, completion_tokens: reply.split(" ").length, total_tokens: 10 + reply.split(" ").length };
    if (!body.stream) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-stub",
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }],
          usage,
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.on("close", () => {
      if (!res.writableFinished) this.abortedStreams++;
    });
    const words = reply.split(/(?<= )/);
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id: "chatcmpl-stub", object: "chat.completion.chunk", created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
    res.write(chunk({ role: "assistant", content: "" }, null));
    for (const word of words) {
      if (res.destroyed) return;
      res.write(chunk({ content: word }, null));
      if (this.streamWordDelayMs) await new Promise((r) => setTimeout(r, this.streamWordDelayMs));
    }
    res.write(chunk({}, "stop", { usage }));
    res.end("data: [DONE]\n\n");
  }
}
