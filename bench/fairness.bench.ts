/**
 * Tenant fairness: how long one tenant's single document takes to be `ready` while another
 * tenant floods the queue with BENCH_FLOOD_DOCS (5,000) documents — with fair queuing (a tenant's
 * n-th waiting document has priority n) and without it (first come, first served), each next to
 * the same document's time on the idle system, in the same run. Target: flooded ≤ 2 × idle + one
 * document's processing time (its worker start to end, idle). Each probe is split into its upload,
 * its wait in the ingest queue and its processing (which includes its batches' wait on the embed
 * queue), from the job's own timestamps.
 */
import { apiClient, type ApiClient } from "../test/helpers/http.ts";
import { startApiAndWorker } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS } from "../test/helpers/test-env.ts";
import { percentiles } from "./stats.ts";

const FLOOD = Number(process.env.BENCH_FLOOD_DOCS ?? 5_000);
const UPLOADERS = 16;
/** When the small tenant uploads: after this share of the flood was accepted. */
const PROBES = [0.4, 0.6, 0.8];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const text = (tenant: string, i: number) =>
  `${tenant} document ${i}. Herons wade in shallow water and wait for fish; document ${i} notes ${i % 97} reeds.\n\nA second paragraph about marsh ${i} and the birds that nest there in spring.`;

interface Timing {
  /** From sending the upload to seeing the document `ready` (polled every 20 ms). */
  totalMs: number;
  /** The upload request alone. */
  uploadMs: number;
  /** From the job's acceptance to a worker starting it (its wait in the queue). */
  queuedMs: number;
  /** From a worker starting it to its end. */
  processingMs: number;
}

/** Uploads a document, polls until it is ready, and splits the time by the job's own timestamps. */
async function timeToReady(client: ApiClient, collectionId: string, body: string): Promise<Timing> {
  const started = performance.now();
  const res = await client.post(`/v1/collections/${collectionId}/documents`, { text: body });
  const uploadMs = performance.now() - started;
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${res.text}`);
  for (;;) {
    const doc = (await client.get(`/v1/documents/${res.body.document.id}`)).body;
    if (doc.status === "ready") break;
    if (doc.status === "failed") throw new Error(`document failed: ${JSON.stringify(doc.error)}`);
    await sleep(20);
  }
  const totalMs = performance.now() - started;
  const job = (await client.get(`/v1/jobs/${res.body.job.id}`)).body;
  const at = (t: string) => Date.parse(t);
  return { totalMs, uploadMs, queuedMs: at(job.started_at) - at(job.created_at), processingMs: at(job.finished_at) - at(job.started_at) };
}

const round = (t: Timing) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v)])) as unknown as Timing;

async function run(fair: boolean) {
  const env = createTestEnv({ LOG_LEVEL: "warn", TENANT_FAIR_QUEUING: String(fair) });
  const processes = await startApiAndWorker({ ...env.env, LOG_LEVEL: "info" });
  try {
    const big = apiClient(processes.url, TEST_KEYS.acme);
    const small = apiClient(processes.url, TEST_KEYS.globex);
    const bigCollection = (await big.post("/v1/collections", { name: "flood", embedding: { provider: "local" } })).body.id;
    const smallCollection = (await small.post("/v1/collections", { name: "one", embedding: { provider: "local" } })).body.id;

    await timeToReady(small, smallCollection, text("warm-up", 0)); // parse thread and tables start cold
    const idle: Timing[] = [];
    for (let i = 0; i < 5; i++) idle.push(await timeToReady(small, smallCollection, text("idle", i)));

    let accepted = 0;
    let next = 0;
    const floodStarted = performance.now();
    const uploaders = Array.from({ length: UPLOADERS }, async () => {
      while (next < FLOOD) {
        const i = next++;
        const res = await big.post(`/v1/collections/${bigCollection}/documents`, { text: text("flood", i) });
        if (res.status !== 202) throw new Error(`flood upload answered ${res.status}: ${res.text}`);
        accepted++;
      }
    });
    const flooded: Timing[] = [];
    const backlogAtProbe: number[] = [];
    for (const [n, share] of PROBES.entries()) {
      while (accepted < FLOOD * share) await sleep(50);
      backlogAtProbe.push(accepted);
      flooded.push(await timeToReady(small, smallCollection, text("probe", n)));
    }
    await Promise.all(uploaders);
    const acceptSeconds = (performance.now() - floodStarted) / 1000;
    // Every accepted flood document is accounted for.
    let ready = 0;
    for (;;) {
      const page = (await big.get(`/v1/collections/${bigCollection}`)).body;
      ready = page.document_count as number;
      const queued = (await big.get(`/v1/collections/${bigCollection}/documents?status=queued&limit=1`)).body.data.length;
      const processing = (await big.get(`/v1/collections/${bigCollection}/documents?status=processing&limit=1`)).body.data.length;
      if (queued === 0 && processing === 0) break;
      await sleep(1_000);
    }
    const floodSeconds = (performance.now() - floodStarted) / 1000;
    // One flood document's processing under the flood (a worker start to its end), the median of a sample.
    const floodJobs = (await big.get("/v1/jobs?type=ingest_document&status=succeeded&limit=100")).body.data as Array<{ started_at: string; finished_at: string }>;
    const floodProcessing = percentiles(floodJobs.map((j) => Date.parse(j.finished_at) - Date.parse(j.started_at)));
    const idleStats = percentiles(idle.map((t) => t.totalMs));
    // "Plus one document's processing time": a document's own processing on the idle system (a
    // flood document's start-to-end time is no use: it includes its batches' wait on the embed queue).
    const oneDocumentMs = percentiles(idle.map((t) => t.processingMs)).p50;
    const targetMs = 2 * idleStats.p50 + oneDocumentMs;
    return {
      fair,
      idleMs: idleStats,
      idle: idle.map(round),
      floodedMs: percentiles(flooded.map((t) => t.totalMs)),
      flooded: flooded.map((t, i) => ({ afterAccepted: backlogAtProbe[i], ...round(t) })),
      oneDocumentProcessingMs: oneDocumentMs,
      // A flood document's start to end (parse, then its batches' wait on the embed queue, then the end).
      floodDocumentStartToEndMs: floodProcessing,
      targetMs: Math.round(targetMs),
      met: flooded.every((t) => t.totalMs <= targetMs),
      missed: flooded.filter((t) => t.totalMs > targetMs).length,
      flood: { documents: FLOOD, accepted, acceptSeconds: Math.round(acceptSeconds), drainedSeconds: Math.round(floodSeconds), documentsCounted: ready },
    };
  } finally {
    await processes.stop();
    await env.cleanup();
  }
}

export async function fairnessBench() {
  const withFairness = await run(true);
  const without = await run(false);
  return { floodDocuments: FLOOD, uploaders: UPLOADERS, probesAtShareAccepted: PROBES, withFairness, without };
}
