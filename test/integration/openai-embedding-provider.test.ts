import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors/app-error.ts";
import { createOpenAIClient, OpenAIEmbeddingProvider, requestBatches } from "../../shared/embeddings/openai.embedding-provider.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";

let stub: OpenAIStub;
beforeAll(async () => {
  stub = await new OpenAIStub().start();
});
afterAll(() => stub.stop());
beforeEach(() => {
  stub.requests.length = 0;
});

const provider = (model = "text-embedding-3-small", dimensions = 32, maxRetries = 2) =>
  new OpenAIEmbeddingProvider(createOpenAIClient({ apiKey: "sk-test-stub", baseURL: stub.url, timeoutMs: 5_000, maxRetries }), {
    provider: "openai",
    model,
    dimensions,
  });

describe("OpenAIEmbeddingProvider through the real SDK", () => {
  it("returns one vector per input, in order, asking for the collection's dimensions", async () => {
    const vectors = await provider().embed(["alpha beta", "gamma", "alpha beta"]);
    expect(vectors).toHaveLength(3);
    expect(vectors[0]).toHaveLength(32);
    expect(vectors[0]![0]).toBeCloseTo(vectors[2]![0]!, 5);
    expect(stub.requests[0]!.body).toMatchObject({ model: "text-embedding-3-small", dimensions: 32, input: ["alpha beta", "gamma", "alpha beta"] });
    expect(stub.requests[0]!.authorization).toBe("Bearer sk-test-stub");
  });

  it("does not send `dimensions` to models that do not take it", async () => {
    await provider("nomic-embed-text", 64).embed(["x"]);
    expect(stub.requests[0]!.body).not.toHaveProperty("dimensions");
  });

  it("rides out a burst of 429s, honouring Retry-After", async () => {
    stub.fail("/v1/embeddings", { status: 429, headers: { "retry-after-ms": "50" } }, { status: 429, headers: { "retry-after-ms": "50" } });
    const started = Date.now();
    const vectors = await provider().embed(["after the burst"]);
    expect(vectors).toHaveLength(1);
    expect(stub.count("/v1/embeddings")).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it("turns persistent 429s into a retryable EMBEDDING_RATE_LIMITED with the provider's retry_after", async () => {
    stub.fail("/v1/embeddings", ...Array.from({ length: 3 }, () => ({ status: 429, headers: { "retry-after": "7", "retry-after-ms": "10" } })));
    const err = await provider().embed(["x"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "EMBEDDING_RATE_LIMITED", retryable: true, httpStatus: 429 });
    expect((err as AppError).retryAfter).toBeGreaterThanOrEqual(1);
  });

  it("retries a 500 and reports a retryable EMBEDDING_PROVIDER_ERROR when it persists", async () => {
    stub.fail("/v1/embeddings", { status: 500 });
    expect(await provider().embed(["recovers"])).toHaveLength(1);
    stub.fail("/v1/embeddings", { status: 500 }, { status: 500 });
    const err = await provider("text-embedding-3-small", 32, 1).embed(["x"]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EMBEDDING_PROVIDER_ERROR", retryable: true });
  });

  it("fails fast, without retries, on 400 and 401", async () => {
    stub.fail("/v1/embeddings", { status: 400, body: { error: { message: "input too long" } } });
    const bad = await provider().embed(["x"]).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: "EMBEDDING_REQUEST_REJECTED", retryable: false });
    expect(stub.count("/v1/embeddings")).toBe(1);
    stub.fail("/v1/embeddings", { status: 401 });
    expect(await provider().embed(["x"]).catch((e: unknown) => e)).toMatchObject({ code: "EMBEDDING_AUTH_FAILED", retryable: false });
    expect(stub.count("/v1/embeddings")).toBe(2);
  });

  it("refuses vectors of the wrong size instead of storing them", async () => {
    stub.nativeDimensions = 10;
    const err = await provider("other-model", 32).embed(["x"]).catch((e: unknown) => e);
    stub.nativeDimensions = 64;
    expect(err).toMatchObject({ code: "EMBEDDING_DIMENSIONS_MISMATCH" });
  });
});

describe("requestBatches", () => {
  it("keeps each request within the input and token limits", () => {
    const texts = Array.from({ length: 10 }, (_, i) => `text number ${i} `.repeat(20));
    const byCount = requestBatches(texts, 4, 1_000_000);
    expect(byCount.map((b) => b.length)).toEqual([4, 4, 2]);
    const byTokens = requestBatches(texts, 100, 150);
    expect(byTokens.length).toBeGreaterThan(3);
    expect(byTokens.flat()).toEqual(texts);
  });
});
