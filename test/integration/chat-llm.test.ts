import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";
import { postForEvents } from "../helpers/sse.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let stub: OpenAIStub;
let stack: TestStack;
let client: ApiClient;
let collection: string;
let document: string;

type Turn = { role: string; content: string };
const chatCalls = () => stub.requests.filter((r) => r.path === "/v1/chat/completions");

beforeAll(async () => {
  stub = await new OpenAIStub().start();
  stack = await startTestStack({
    workers: true,
    env: {
      OPENAI_API_KEY: "sk-test-chat",
      OPENAI_BASE_URL: stub.url,
      CHAT_MODEL: "stub-chat-1",
      CHAT_TIMEOUT_MS: "1500",
      OPENAI_MAX_RETRIES: "0",
      MAX_HISTORY_MESSAGES: "2",
    },
  });
  client = apiClient(stack.url, TEST_KEYS.acme);
  collection = (await client.post("/v1/collections", { name: "handbook" })).body.id;
  const res = await client.post(`/v1/collections/${collection}/documents`, {
    text: "Refunds are paid within 14 days of a return.\n\nShipping is free for orders over 50 euros.",
    title: "Customer handbook",
  });
  document = res.body.document.id;
  await waitFor(async () => ((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined), 30_000);
});
afterAll(async () => {
  await stack?.stop();
  await stub?.stop();
});
beforeEach(() => {
  stub.requests.length = 0;
  stub.chatDelayMs = 0;
  stub.streamWordDelayMs = 0;
  stub.chatReply = "Refunds take 14 days [1].";
});

describe("chat with an OpenAI-compatible model", () => {
  it("sends a grounded prompt with numbered sources and answers with the model's text", async () => {
    const res = await client.post("/v1/chat", { collection_ids: [collection], message: "How long do refunds take?" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      answer: "Refunds take 14 days [1].",
      mode: "llm",
      model: "stub-chat-1",
      usage: { prompt_tokens: 10, completion_tokens: expect.any(Number), total_tokens: expect.any(Number) },
    });
    expect(res.body.sources[0]).toMatchObject({ n: 1, document_id: document, title: "Customer handbook" });
    const [call] = chatCalls();
    const messages = call!.body.messages as Turn[];
    expect(call!.body).toMatchObject({ model: "stub-chat-1", temperature: 0.3 });
    expect(messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(messages[0]!.content).toContain("using only the numbered sources");
    expect(messages[0]!.content).toContain("[1] (Customer handbook)\nRefunds are paid within 14 days");
    expect(messages[1]!.content).toBe("How long do refunds take?");
    expect(call!.authorization).toBe("Bearer sk-test-chat");
  });

  it("includes the session's last MAX_HISTORY_MESSAGES messages, and honours temperature", async () => {
    const first = await client.post("/v1/chat", { collection_ids: [collection], message: "first question about refunds" });
    stub.chatReply = "second answer [1]";
    await client.post("/v1/chat", { collection_ids: [collection], message: "second question about shipping", session_id: first.body.session_id });
    stub.requests.length = 0;
    await client.post("/v1/chat", { collection_ids: [collection], message: "third question", session_id: first.body.session_id, temperature: 0.9 });
    const [call] = chatCalls();
    const messages = call!.body.messages as Turn[];
    // MAX_HISTORY_MESSAGES=2: only the previous question and answer (its citations, which would
    // clash with this turn's numbering, taken out), then the new question.
    expect(messages.slice(1)).toEqual([
      { role: "user", content: "second question about shipping" },
      { role: "assistant", content: "second answer" },
      { role: "user", content: "third question" },
    ]);
    expect(call!.body.temperature).toBe(0.9);
  });

  it("does not call the model when nothing was found", async () => {
    const empty = (await client.post("/v1/collections", { name: "empty-llm" })).body.id;
    const res = await client.post("/v1/chat", { collection_ids: [empty], message: "anything" });
    expect(res.body.sources).toEqual([]);
    expect(res.body.answer).toMatch(/could not find anything/);
    expect(chatCalls()).toHaveLength(0);
  });

  it("streams the model's tokens as delta events and ends with the stored record", async () => {
    stub.chatReply = "Refunds are paid within 14 days of a return [1].";
    const { events } = await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, { collection_ids: [collection], message: "refund timing?", stream: true });
    const deltas = events.filter((e) => e.event === "delta").map((e) => e.data.content);
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join("")).toBe(stub.chatReply);
    const done = events.at(-1)!;
    expect(done.event).toBe("done");
    expect(done.data).toMatchObject({ answer: stub.chatReply, mode: "llm", model: "stub-chat-1", usage: { prompt_tokens: 10 } });
    expect(chatCalls()[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const session = await client.get(`/v1/chat/sessions/${done.data.session_id}`);
    expect(session.body.messages[1]).toMatchObject({ role: "assistant", content: stub.chatReply, mode: "llm" });
  });

  it("stops the upstream call when the client disconnects, and stores nothing", async () => {
    stub.chatReply = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
    stub.streamWordDelayMs = 50;
    const controller = new AbortController();
    let sessionId = "";
    let deltas = 0;
    await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, { collection_ids: [collection], message: "a long answer please", stream: true }, {
      signal: controller.signal,
      onEvent(e) {
        if (e.event === "sources") sessionId = JSON.parse(e.data).session_id;
        if (e.event === "delta" && ++deltas === 3) controller.abort();
      },
    }).catch((err: unknown) => expect((err as Error).name).toBe("AbortError"));
    await waitFor(async () => stub.abortedStreams > 0, 5_000, "the upstream stream to be closed");
    expect(deltas).toBeLessThan(60);
    expect((await client.get(`/v1/chat/sessions/${sessionId}`)).status).toBe(404);
  });

  it("answers 504 with a code when the model does not answer in time", async () => {
    stub.chatDelayMs = 3_000;
    const res = await client.post("/v1/chat", { collection_ids: [collection], message: "refunds?" });
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe("CHAT_PROVIDER_TIMEOUT");
  });

  it("gives up on a stream that stalls after it started, with CHAT_PROVIDER_TIMEOUT, and stores nothing", async () => {
    stub.chatReply = "first second third";
    stub.streamWordDelayMs = 3_000; // CHAT_TIMEOUT_MS is 1.5 s
    const { events } = await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, { collection_ids: [collection], message: "refunds?", stream: true });
    expect(events.map((e) => e.event)).toEqual(["sources", "delta", "error"]);
    expect(events.at(-1)!.data.error.code).toBe("CHAT_PROVIDER_TIMEOUT");
    expect((await client.get(`/v1/chat/sessions/${events[0]!.data.session_id}`)).status).toBe(404);
  });

  it("answers 429 with the provider's Retry-After when the model is rate-limited", async () => {
    stub.fail("/v1/chat/completions", { status: 429, headers: { "retry-after": "7" } });
    const res = await client.post("/v1/chat", { collection_ids: [collection], message: "refunds?" });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(res.body.error).toMatchObject({ code: "CHAT_RATE_LIMITED", retry_after: 7 });
  });

  it("reports a provider failure during a stream as an error event", async () => {
    stub.fail("/v1/chat/completions", { status: 500 });
    const { status, events } = await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, { collection_ids: [collection], message: "refunds?", stream: true });
    expect(status).toBe(200);
    expect(events.map((e) => e.event)).toEqual(["sources", "error"]);
    expect(events[1]!.data.error.code).toBe("CHAT_PROVIDER_ERROR");
  });
});
