/**
 * What chat adds on top of the model: `POST /v1/chat` against a spawned api whose model is the
 * local OpenAI-compatible stub answering after a fixed delay. overhead = latency − the delay
 * (retrieval, prompt building, the SDK, storing the exchange). Streaming: time to the `sources`
 * event and to the first `delta`.
 */
import { apiClient } from "../test/helpers/http.ts";
import { OpenAIStub } from "../test/helpers/openai-stub.ts";
import { startApiAndWorker } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor } from "../test/helpers/test-env.ts";
import { percentiles } from "./stats.ts";

const MODEL_DELAY_MS = 200;
const REQUESTS = Number(process.env.BENCH_CHAT_REQUESTS ?? 100);

export async function chatBench() {
  const stub = await new OpenAIStub().start();
  stub.chatDelayMs = MODEL_DELAY_MS;
  stub.chatReply = "The answer, with a citation [1].";
  const env = createTestEnv({ LOG_LEVEL: "warn", OPENAI_API_KEY: "sk-bench", OPENAI_BASE_URL: stub.url, EMBEDDING_DIMENSIONS: "256" });
  const processes = await startApiAndWorker({ ...env.env, LOG_LEVEL: "info" });
  const { url } = processes;
  try {
    const client = apiClient(url, TEST_KEYS.acme);
    const collection = (await client.post("/v1/collections", { name: "bench" })).body.id;
    const docs = Array.from({ length: 20 }, (_, i) => `Policy ${i}: refunds for product line ${i} are paid within ${i + 3} days.\n\nShipping rule ${i} applies to region ${i}.`);
    for (const text of docs) {
      const res = await client.post(`/v1/collections/${collection}/documents`, { text });
      await waitFor(async () => ((await client.get(`/v1/jobs/${res.body.job.id}`)).body.status === "succeeded" ? true : undefined), 30_000);
    }
    await client.post("/v1/chat", { collection_ids: [collection], message: "warm-up" });

    const total: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const started = performance.now();
      const res = await client.post("/v1/chat", { collection_ids: [collection], message: `How long do refunds for product line ${i % 20} take?` });
      if (res.status !== 200) throw new Error(`chat failed: ${res.status} ${res.text.slice(0, 200)}`);
      total.push(performance.now() - started);
    }
    const toSources: number[] = [];
    const toFirstDelta: number[] = [];
    for (let i = 0; i < Math.min(REQUESTS, 50); i++) {
      const started = performance.now();
      const res = await fetch(`${url}/v1/chat`, {
        method: "POST",
        headers: { authorization: `Bearer ${TEST_KEYS.acme}`, "content-type": "application/json" },
        body: JSON.stringify({ collection_ids: [collection], message: `refunds for line ${i % 20}?`, stream: true }),
      });
      let text = "";
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += Buffer.from(chunk).toString();
        if (toSources.length === i && text.includes("event: sources")) toSources.push(performance.now() - started);
        if (toFirstDelta.length === i && text.includes("event: delta")) toFirstDelta.push(performance.now() - started);
      }
    }
    const overhead = total.map((ms) => ms - MODEL_DELAY_MS);
    return {
      model_delay_ms: MODEL_DELAY_MS,
      requests: REQUESTS,
      documents: docs.length,
      embedding: "OpenAI-compatible stub (local vectors), 256 dimensions",
      latency_ms: percentiles(total),
      overhead_ms: percentiles(overhead),
      stream_to_sources_ms: percentiles(toSources),
      stream_to_first_delta_ms: percentiles(toFirstDelta),
    };
  } finally {
    await processes.stop();
    await env.cleanup();
    await stub.stop();
  }
}
