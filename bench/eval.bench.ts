/**
 * Retrieval quality on a labelled set: bench/eval/questions.json holds questions written from
 * documents in ../shared/corpus, each with the document (and, for PDFs, the page) that answers it
 * and the passage itself (`evidence`). A spawned api and worker ingest those documents into one
 * collection (the default embedder); every question is then asked in each search mode over HTTP,
 * top 10. A result is a hit when it comes from a labelled document and, when a page is labelled,
 * cites a labelled page. Reported: hit@1, hit@5 and MRR@10 per mode, overall and by kind
 * (lexical: shares its key words with the passage; paraphrase: says it in other words); and the
 * same with a stricter hit, a result whose chunk holds the labelled passage (`passage`).
 *
 * Before any question is asked, every label is checked against the chunks Quarry stored: the
 * evidence must be in a chunk of the labelled document, and every chunk holding it must cite a
 * labelled page (a chunk cites the page it starts on, so a passage may be labelled with the page
 * it is printed on and the page its chunk starts on). A label that no longer matches stops the run.
 *
 * Between ingestion and the questions the collection gets its vector maintenance once (compaction
 * and indexes, keyword index included), the state the after-writes maintenance brings a collection
 * to within VECTOR_MAINTENANCE_AFTER_WRITES_MS; that background job is off here, so that no index
 * changes while the questions are asked.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../shared/config/env.ts";
import { createDeps, type Deps } from "../shared/deps.ts";
import { createLogger } from "../shared/logging/logger.ts";
import { optimizeVectors } from "../shared/use-cases/optimize-vectors.ts";
import { corpusFile } from "../test/helpers/corpus.ts";
import { apiClient, uploadFile, type ApiClient } from "../test/helpers/http.ts";
import { startApiAndWorker } from "../test/helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor } from "../test/helpers/test-env.ts";
import { percentiles, timed } from "./stats.ts";

interface Answer {
  file: string;
  page?: number;
  evidence: string;
}
interface Question {
  id: string;
  kind: "lexical" | "paraphrase";
  question: string;
  answers: Answer[];
}
interface Hit {
  document_id: string;
  page?: number;
  text: string;
}
type Ranks = Record<string, Record<string, number | null>>;

const QUESTIONS: Question[] = JSON.parse(readFileSync(new URL("./eval/questions.json", import.meta.url), "utf8"));
/** Ingested beside the labelled documents so that retrieval has something else to choose from. */
const DISTRACTORS = [
  "docx/comments.docx",
  "docx/footnotes.docx",
  "docx/text-box.docx",
  "csv/sjis-sample.csv",
  "csv/utf-8-bom-sample.csv",
  "pdf/90ms_rksj_h_sample.pdf",
  "pdf/ArabicCIDTrueType.pdf",
  "pdf/xref_command_missing.pdf",
];
const TOP_K = 10;
const RERANK_CONFIGURED = Boolean(process.env.RERANK_URL);
// Both fields are always sent: the default mode depends on the embedder, and reranking is on by
// default wherever RERANK_URL is set.
const MODES: Array<{ name: string; body: { mode: string; rerank: boolean }; skip?: string }> = [
  { name: "vector", body: { mode: "vector", rerank: false } },
  { name: "keyword", body: { mode: "keyword", rerank: false } },
  { name: "hybrid", body: { mode: "hybrid", rerank: false } },
  { name: "hybrid+rerank", body: { mode: "hybrid", rerank: true }, skip: RERANK_CONFIGURED ? undefined : "not run (no reranker configured: set RERANK_URL)" },
];

const normalise = (text: string) => text.replace(/\s+/g, " ").trim();
const round = (n: number) => Math.round(n * 1000) / 1000;

export async function evalBench() {
  const files = [...new Set([...QUESTIONS.flatMap((q) => q.answers.map((a) => a.file)), ...DISTRACTORS])];
  // A real reranker is the operator's: its settings (and an allowlist for a local one) pass through.
  const passThrough = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && (k.startsWith("RERANK_") || k === "OUTBOUND_ALLOWLIST"))) as Record<string, string>;
  const env = createTestEnv({ LOG_LEVEL: "info", VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0", ...passThrough });
  const config = loadConfig(env.env);
  const deps = await createDeps(config, createLogger(config, "bench"));
  try {
    const processes = await startApiAndWorker(env.env);
    try {
      const client = apiClient(processes.url, TEST_KEYS.acme);
      const collection = (await client.post("/v1/collections", { name: "eval" })).body;
      const [fileOf, ingestMs] = await timed(() => ingest(client, processes.url, collection.id, files));
      const [, maintenanceMs] = await timed(() => optimizeVectors(deps, { collectionId: collection.id }));
      const chunks = await verifyLabels(deps, fileOf);

      const modes: Record<string, unknown> = {};
      const ranks: Ranks = Object.fromEntries(QUESTIONS.map((q) => [q.id, {}]));
      const passageRanks: Ranks = Object.fromEntries(QUESTIONS.map((q) => [q.id, {}]));
      for (const mode of MODES) {
        const refused = mode.skip ?? (await unsupported(client, collection.id, mode.body));
        if (refused) {
          modes[mode.name] = { run: false, reason: refused };
          continue;
        }
        const latencies: number[] = [];
        const warnings: Record<string, number> = {};
        let reranked = 0;
        for (const q of QUESTIONS) {
          const [res, ms] = await timed(() => client.post(`/v1/collections/${collection.id}/search`, { query: q.question, top_k: TOP_K, ...mode.body }));
          if (res.status !== 200) throw new Error(`${mode.name} search for ${q.id} failed: ${res.status} ${res.text.slice(0, 300)}`);
          if (res.body.mode !== mode.body.mode) throw new Error(`${mode.name} search for ${q.id} was answered in mode ${res.body.mode}`);
          for (const w of (res.body.warnings ?? []) as Array<{ code: string }>) warnings[w.code] = (warnings[w.code] ?? 0) + 1;
          if (res.body.reranked) reranked++;
          latencies.push(ms);
          ranks[q.id]![mode.name] = rankOf(res.body.data as Hit[], (h) => q.answers.some((a) => a.file === fileOf.get(h.document_id) && (a.page === undefined || a.page === h.page)));
          passageRanks[q.id]![mode.name] = rankOf(res.body.data as Hit[], (h) => q.answers.some((a) => a.file === fileOf.get(h.document_id) && normalise(h.text).includes(normalise(a.evidence))));
        }
        modes[mode.name] = {
          run: true,
          all: score(QUESTIONS, ranks, mode.name),
          lexical: score(QUESTIONS.filter((q) => q.kind === "lexical"), ranks, mode.name),
          paraphrase: score(QUESTIONS.filter((q) => q.kind === "paraphrase"), ranks, mode.name),
          passage: {
            all: score(QUESTIONS, passageRanks, mode.name),
            lexical: score(QUESTIONS.filter((q) => q.kind === "lexical"), passageRanks, mode.name),
            paraphrase: score(QUESTIONS.filter((q) => q.kind === "paraphrase"), passageRanks, mode.name),
          },
          latency_ms: percentiles(latencies),
          ...(mode.body.rerank ? { reranked_answers: reranked } : {}),
          ...(Object.keys(warnings).length > 0 ? { warnings } : {}),
        };
      }
      return {
        questions: QUESTIONS.length,
        lexical: QUESTIONS.filter((q) => q.kind === "lexical").length,
        paraphrase: QUESTIONS.filter((q) => q.kind === "paraphrase").length,
        documents: files.length,
        chunks,
        ingest_seconds: Math.round(ingestMs / 100) / 10,
        maintenance_seconds: Math.round(maintenanceMs / 100) / 10,
        embedding: collection.embedding,
        top_k: TOP_K,
        hit: "a result from a labelled document, on a labelled page when one is given; passage: a result whose chunk holds the labelled passage",
        modes,
        ranks, // per question and mode: the rank of the first hit in the top 10, or null
        passage_ranks: passageRanks,
      };
    } finally {
      await processes.stop();
    }
  } finally {
    await deps.close();
    await env.cleanup();
  }
}

/** Uploads every file and waits until all are ready; answers document id → corpus file. */
async function ingest(client: ApiClient, url: string, collectionId: string, files: string[]): Promise<Map<string, string>> {
  const fileOf = new Map<string, string>();
  for (const file of files) {
    const res = await uploadFile(url, TEST_KEYS.acme, collectionId, { name: path.basename(file), content: corpusFile(file) });
    if (res.status !== 202) throw new Error(`upload of ${file} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
    fileOf.set(res.body.document.id, file);
  }
  for (const [id, file] of fileOf) {
    const doc = await waitFor(async () => {
      const body = (await client.get(`/v1/documents/${id}`)).body;
      return (body.status === "ready" || body.status === "failed") && body;
    }, 300_000, `${file} to be ingested`);
    if (doc.status !== "ready") throw new Error(`${file} failed to ingest: ${JSON.stringify(doc.error)}`);
  }
  return fileOf;
}

/** Checks every label against the stored chunks (see the header); answers the chunk count. */
async function verifyLabels(deps: Deps, fileOf: Map<string, string>): Promise<number> {
  const { rows } = await deps.db.query<{ document_id: string; page: number | null; text: string }>("SELECT document_id, page, text FROM chunks ORDER BY document_id, chunk_index");
  const byFile = new Map<string, Array<{ page: number | null; text: string }>>();
  for (const row of rows) {
    const file = fileOf.get(row.document_id)!;
    byFile.set(file, [...(byFile.get(file) ?? []), { page: row.page, text: normalise(row.text) }]);
  }
  const problems: string[] = [];
  for (const q of QUESTIONS) {
    for (const file of new Set(q.answers.map((a) => a.file))) {
      const labels = q.answers.filter((a) => a.file === file);
      const holding = (byFile.get(file) ?? []).filter((c) => labels.some((a) => c.text.includes(normalise(a.evidence))));
      if (holding.length === 0) problems.push(`${q.id}: no chunk of ${file} holds its evidence`);
      const pages = labels.map((a) => a.page ?? null);
      for (const c of holding) if (!pages.includes(c.page)) problems.push(`${q.id}: a chunk of ${file} holding its evidence cites page ${c.page}, not one of ${pages.join(", ")}`);
    }
  }
  if (problems.length > 0) throw new Error(`the labels in bench/eval/questions.json no longer match Quarry's chunks:\n${problems.join("\n")}`);
  return rows.length;
}

/**
 * Why a mode cannot be run, or undefined. The search route drops fields it does not know, so a
 * field is probed with a value of the wrong type: an api that knows it answers 400.
 */
async function unsupported(client: ApiClient, collectionId: string, body: Record<string, unknown>): Promise<string | undefined> {
  for (const field of Object.keys(body)) {
    const res = await client.post(`/v1/collections/${collectionId}/search`, { query: "probe", top_k: 1, [field]: 12345 });
    if (res.status === 200) return `not run (this api ignores the search field \`${field}\`)`;
    if (res.status !== 400) throw new Error(`probing the search field ${field} answered ${res.status}: ${res.text.slice(0, 300)}`);
  }
  return undefined;
}

/** 1-based rank of the first hit, or null when none of the results is one. */
function rankOf(hits: Hit[], isHit: (hit: Hit) => boolean): number | null {
  const index = hits.findIndex(isHit);
  return index === -1 ? null : index + 1;
}

function score(questions: Question[], ranks: Ranks, mode: string) {
  const found = questions.map((q) => ranks[q.id]![mode] ?? null);
  const share = (ok: (r: number) => boolean) => round(found.filter((r) => r !== null && ok(r)).length / questions.length);
  return {
    n: questions.length,
    hit_at_1: share((r) => r === 1),
    hit_at_5: share((r) => r <= 5),
    mrr_at_10: round(found.reduce<number>((sum, r) => sum + (r === null ? 0 : 1 / r), 0) / questions.length),
  };
}
