/**
 * A bounded loopback load test with autocannon: JSON text ingests (the enqueue path: validate,
 * one Postgres transaction, one BullMQ add) and searches against an api and a worker as separate
 * processes, next to an Express hello-world on the same machine in the same run. Afterwards every
 * accepted upload is accounted for: each has a document that ends ready.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import autocannon from "autocannon";
import { EmbeddedVectorStore } from "../shared/vector-store/embedded.vector-store.ts";
import { apiClient } from "../test/helpers/http.ts";
import { startApiAndWorker } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor } from "../test/helpers/test-env.ts";

const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_LOAD_CONNECTIONS ?? 20);

const HELLO = `
import express from "express";
const app = express();
app.get("/", (_req, res) => res.json({ hello: "world" }));
const server = app.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ url: "http://127.0.0.1:" + server.address().port })));
`;

/** The reference: Express answering a constant JSON, in a process of its own. */
async function startHello(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", HELLO], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once("data", (d: Buffer) => resolve(JSON.parse(d.toString()).url));
    child.once("exit", (code) => reject(new Error(`hello-world exited with ${code}`)));
  });
  return { url, stop: () => child.kill("SIGTERM") };
}

interface Shot {
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  requests: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
}

async function shoot(options: autocannon.Options): Promise<Shot> {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, (s as { count: number }).count]));
  return {
    requestsPerSecond: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    requests: result.requests.total,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

export async function loadBench() {
  const hello = await startHello();
  const env = createTestEnv({ LOG_LEVEL: "warn" });
  const quarry = await startApiAndWorker({ ...env.env, LOG_LEVEL: "info" });
  try {
    const client = apiClient(quarry.url, TEST_KEYS.acme);
    const collection = (await client.post("/v1/collections", { name: "load", embedding: { provider: "local" } })).body.id;
    const auth = { authorization: `Bearer ${TEST_KEYS.acme}`, "content-type": "application/json" };

    const reference = await shoot({ url: `${hello.url}/` });
    // Every request a different text ([<id>] is replaced by a unique id), so none is a duplicate.
    const ingests = await shoot({
      url: `${quarry.url}/v1/collections/${collection}/documents`,
      method: "POST",
      headers: auth,
      body: JSON.stringify({ text: "Load test document [<id>]: herons wade in shallow water and wait for fish." }),
      idReplacement: true,
    });
    const accepted = ingests.statusCodes["202"] ?? 0;
    // autocannon stops counting at the deadline; requests still in flight then finish afterwards.
    const drainStarted = performance.now();
    const inFlight = async (status: string) => (await client.get(`/v1/collections/${collection}/documents?status=${status}&limit=1`)).body.data.length;
    await waitFor(async () => (await inFlight("queued")) + (await inFlight("processing")) === 0, 600_000, "every accepted upload to be ingested");
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const documents = (await client.get(`/v1/collections/${collection}`)).body.document_count as number;
    const failed = (await client.get(`/v1/collections/${collection}/documents?status=failed&limit=100`)).body.data.length;
    const ready = documents - failed;
    const search = () =>
      shoot({
        url: `${quarry.url}/v1/collections/${collection}/search`,
        method: "POST",
        headers: auth,
        // Vector, as in the runs before keyword search existed (keyword is the default for local-embedder collections now).
        body: JSON.stringify({ query: "herons waiting for fish", top_k: 5, mode: "vector" }),
      });
    // Right after the burst: every ingest appended its own small LanceDB fragment, and the
    // collection's maintenance ran every VECTOR_MAINTENANCE_AFTER_WRITES_MS (10 s) meanwhile; the
    // writes of the last window may still be uncompacted. Then after one more compaction.
    const searches = await search();
    const store = new EmbeddedVectorStore(path.join(env.dataDir, "vectors"));
    const compactStarted = performance.now();
    await store.optimize({ tenantId: "acme", collectionId: collection, version: 0 });
    const compactSeconds = (performance.now() - compactStarted) / 1000;
    const searchesCompacted = await search();
    return {
      seconds: SECONDS,
      connections: CONNECTIONS,
      reference: { name: "express hello-world (GET, constant JSON)", ...reference },
      ingests: {
        ...ingests,
        accepted,
        documents,
        readyAfterwards: ready,
        failedAfterwards: failed,
        drainSeconds: Math.round(drainSeconds),
        // Every counted 202 has its document ready; the rest were answered after the clock stopped.
        accountedFor: failed === 0 && ready >= accepted && documents - accepted <= CONNECTIONS,
      },
      searches: { afterTheBurst: searches, afterCompaction: { compactSeconds: Math.round(compactSeconds * 10) / 10, ...searchesCompacted } },
      ratios: {
        ingestVsHello: Math.round((ingests.requestsPerSecond / reference.requestsPerSecond) * 1000) / 1000,
        searchVsHello: Math.round((searches.requestsPerSecond / reference.requestsPerSecond) * 1000) / 1000,
        compactedSearchVsHello: Math.round((searchesCompacted.requestsPerSecond / reference.requestsPerSecond) * 1000) / 1000,
      },
    };
  } finally {
    await quarry.stop();
    await env.cleanup();
    hello.stop();
  }
}
