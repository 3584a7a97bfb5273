import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOTHING_FOUND } from "../../shared/use-cases/chat.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { corpusFile } from "../helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../helpers/http.ts";
import { postForEvents } from "../helpers/sse.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let stack: TestStack;
let client: ApiClient;
let pdfCollection: string;
let pdfDocument: string;

beforeAll(async () => {
  stack = await startTestStack({ workers: true, env: { CHUNK_SIZE: "200", CHUNK_OVERLAP: "40" } });
  client = apiClient(stack.url, TEST_KEYS.acme);
  pdfCollection = (await client.post("/v1/collections", { name: "papers" })).body.id;
  const res = await uploadFile(stack.url, TEST_KEYS.acme, pdfCollection, { name: "tracemonkey.pdf", content: corpusFile("pdf/tracemonkey.pdf") }, { title: "TraceMonkey" });
  pdfDocument = res.body.document.id;
  await waitFor(async () => ((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined), 30_000);
});
afterAll(async () => {
  await stack?.stop();
});

describe("chat without a language model (extractive)", () => {
  it("answers with the best passages, cited, and says it is extractive", async () => {
    const res = await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "Which National Science Foundation grants sponsored this effort?" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ mode: "extractive", model: "quarry-extractive-v1", session_id: expect.any(String) });
    expect(res.body.answer).toMatch(/^No language model is configured/);
    expect(res.body.answer).toContain("[1]");
    // Only passages that share words with the question: not five for the sake of five.
    const sources = res.body.sources as Array<{ n: number; text: string }>;
    expect(sources.length).toBeGreaterThanOrEqual(1);
    expect(sources.length).toBeLessThanOrEqual(5);
    expect(sources.map((s) => s.n)).toEqual(sources.map((_, i) => i + 1));
    for (const s of sources) expect(s.text).toMatch(/National|Science|Foundation|grant|sponsor|effort/);
    const top = res.body.sources[0];
    expect(top).toMatchObject({ document_id: pdfDocument, collection_id: pdfCollection, title: "TraceMonkey" });
    expect(top.text).toContain("National Science");
    expect([12, 13]).toContain(top.page);
    expect(res.body).not.toHaveProperty("usage");
  });

  it("quotes only passages that share the question's words, however low the lexical embedder's scores", async () => {
    const res = await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "What is a trace tree?" });
    expect(res.body.sources).toHaveLength(5);
    for (const s of res.body.sources as Array<{ text: string }>) expect(s.text).toMatch(/trace[\s\S]*tree|tree[\s\S]*trace/i);
    expect(res.body.answer).toMatch(/^No language model is configured/);
  });

  it("says nothing was found, and quotes nothing, when no passage shares the question's words", async () => {
    // The hashed embedder still scores unrelated passages up to ~0.27: the answer must not quote them.
    const res = await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "What is the refund policy?" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ answer: NOTHING_FOUND, sources: [], mode: "extractive" });
    const streamed = await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, { collection_ids: [pdfCollection], message: "How do I bake sourdough bread?", stream: true });
    expect(streamed.events[0]!.data.sources).toEqual([]);
    expect(streamed.events.at(-1)!.data).toMatchObject({ answer: NOTHING_FOUND, sources: [] });
  });

  it("says nothing was found, without inventing, when a collection is empty", async () => {
    const empty = (await client.post("/v1/collections", { name: "empty" })).body.id;
    const res = await client.post("/v1/chat", { collection_ids: [empty], message: "What is the refund policy?" });
    expect(res.body).toMatchObject({ answer: NOTHING_FOUND, sources: [], mode: "extractive" });
  });

  it("keeps the conversation in a session that only its tenant can read", async () => {
    const first = await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "What is a trace tree?" });
    const second = await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "How are nested loops handled?", session_id: first.body.session_id });
    expect(second.body.session_id).toBe(first.body.session_id);
    const session = await client.get(`/v1/chat/sessions/${first.body.session_id}`);
    expect(session.body.messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(session.body.messages[0]).toEqual({ role: "user", content: "What is a trace tree?", created_at: expect.any(String) });
    expect(session.body.messages[1].sources[0].document_id).toBe(pdfDocument);
    expect(session.body.collection_ids).toEqual([pdfCollection]);
    const globex = apiClient(stack.url, TEST_KEYS.globex);
    expect((await globex.get(`/v1/chat/sessions/${first.body.session_id}`)).status).toBe(404);
    expect((await globex.post("/v1/chat", { collection_ids: [pdfCollection], message: "x" })).status).toBe(404);
    expect((await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "x", session_id: crypto.randomUUID() })).status).toBe(404);
  });

  it("validates the request", async () => {
    expect((await client.post("/v1/chat", { collection_ids: [], message: "x" })).status).toBe(400);
    expect((await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "" })).status).toBe(400);
    expect((await client.post("/v1/chat", { collection_ids: [pdfCollection], message: "x", top_k: 50 })).status).toBe(400);
    expect((await client.post("/v1/chat", { collection_ids: ["not-a-uuid"], message: "x" })).body.error.code).toBe("VALIDATION_ERROR");
  });

  it("streams sources, then deltas, then the final record, over SSE", async () => {
    const { status, headers, events } = await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, {
      collection_ids: [pdfCollection],
      message: "What does the trace monitor do?",
      stream: true,
    });
    expect(status).toBe(200);
    expect(headers.get("content-type")).toMatch(/^text\/event-stream/);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe("sources");
    expect(names.at(-1)).toBe("done");
    expect(names.slice(1, -1).every((n) => n === "delta")).toBe(true);
    expect(names.length).toBeGreaterThan(3);
    const done = events.at(-1)!.data;
    expect(events.slice(1, -1).map((e) => e.data.content).join("")).toBe(done.answer);
    expect(done.sources).toEqual(events[0]!.data.sources);
    expect(done.session_id).toBe(events[0]!.data.session_id);
    expect((await client.get(`/v1/chat/sessions/${done.session_id}`)).body.messages).toHaveLength(2);
  });

  it("answers a streamed request for an unknown collection with a plain 404", async () => {
    const res = await postForEvents(`${stack.url}/v1/chat`, TEST_KEYS.acme, { collection_ids: [crypto.randomUUID()], message: "x", stream: true });
    expect(res.status).toBe(404);
    expect((res.json as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });
});

describe("POST /v1/embeddings (OpenAI-compatible)", () => {
  it("works with the official openai SDK pointed at Quarry, base64 included", async () => {
    const { default: OpenAI } = await import("openai");
    const sdk = new OpenAI({ apiKey: TEST_KEYS.acme, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const res = await sdk.embeddings.create({ model: "quarry-hash-v1", input: ["first text", "second text"] });
    expect(res.object).toBe("list");
    expect(res.model).toBe("quarry-hash-v1");
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data[0]!.embedding).toHaveLength(384);
    const floats = await sdk.embeddings.create({ model: "quarry-hash-v1", input: "first text", encoding_format: "float" });
    floats.data[0]!.embedding.forEach((v, i) => expect(v).toBeCloseTo(res.data[0]!.embedding[i]!, 5));
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it("keeps to small batches and names what it cannot serve", async () => {
    const many = await client.post("/v1/embeddings", { input: Array.from({ length: 65 }, (_, i) => `t${i}`) });
    expect(many.status).toBe(400);
    const remote = await client.post("/v1/embeddings", { input: "x", model: "text-embedding-3-small" });
    expect(remote.status).toBe(422);
    expect(remote.body.error.code).toBe("EMBEDDING_PROVIDER_UNAVAILABLE");
  });
});
