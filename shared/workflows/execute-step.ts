import { setTimeout } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import type { Deps } from "../deps.ts";
import { AppError, permanent } from "../errors/app-error.ts";
import { isOutboundRefused } from "../outbound/outbound-guard.ts";
import { chat } from "../use-cases/chat.ts";
import { acceptDocument, getDocument } from "../use-cases/documents.ts";
import { searchCollection } from "../use-cases/search.ts";
import type { StepTypeName, StepWith } from "./step-types.ts";
import { schemaValidator } from "./json-schemas.ts";
import { workflowSigningSecret } from "./signing-secret.ts";

/** What a step's executor gets besides its resolved `with`. */
export interface StepRun {
  deps: Deps;
  tenantId: string;
  runId: string;
  stepId: string;
  /** Aborted by the step's timeout, the run's deadline, or a cancel. */
  signal: AbortSignal;
  /** The attempt's time budget (the http step's call gets all of it). */
  budgetMs: number;
}

const stepFailed = (code: string, message: string, retryable: boolean, retryAfter?: number) =>
  new AppError(code, message, { httpStatus: 422, retryable, retryAfter });

async function runSearch(run: StepRun, w: StepWith<"search">) {
  const found = await searchCollection(run.deps, run.tenantId, w.collection_id, {
    query: w.query,
    topK: w.top_k,
    filter: w.filter,
    scoreThreshold: w.score_threshold,
    mode: w.mode,
    rerank: w.rerank,
  });
  return { results: found.data, mode: found.mode, reranked: found.reranked, warnings: found.warnings };
}

/** The model's answer as JSON: the whole text, or the one fenced block some models wrap it in. */
function parseJsonAnswer(text: string): unknown {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(text);
  return JSON.parse(fenced ? fenced[1]! : text);
}

async function runLlm(run: StepRun, w: StepWith<"llm">) {
  const model = run.deps.chatModel;
  if (!model.generate) {
    throw permanent("LLM_NOT_CONFIGURED", "llm steps need a chat model: set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible provider)");
  }
  const answer = await model.generate({
    messages: [...(w.system ? [{ role: "system" as const, content: w.system }] : []), { role: "user", content: w.prompt }],
    temperature: w.temperature,
    model: w.model,
    maxTokens: w.max_tokens,
    jsonSchema: w.schema,
    signal: run.signal,
  });
  const output = { text: answer.text, model: answer.model, ...(answer.usage ? { usage: answer.usage } : {}) };
  if (!w.schema) return output;
  const compiled = schemaValidator(w.schema);
  if ("problem" in compiled) throw permanent("STEP_INVALID_INPUT", `with.schema: ${compiled.problem}`);
  let data: unknown;
  try {
    data = parseJsonAnswer(answer.text);
  } catch {
    throw stepFailed("LLM_INVALID_OUTPUT", `the model's answer is not JSON: ${JSON.stringify(answer.text.slice(0, 200))}`, true);
  }
  if (!compiled.validate(data)) throw stepFailed("LLM_INVALID_OUTPUT", `the model's answer does not match with.schema: ${compiled.errors()}`, true);
  return { ...output, data };
}

/**
 * An outbound HTTP call through the guard. Signed the Standard Webhooks way when WEBHOOK_SECRET is
 * set, with the tenant's own key (see signing-secret.ts; `webhook-id` = `msg_<run>_<step>`, the
 * same on every attempt so the receiver can drop repeats).
 * 2xx succeeds; 408, 425, 429 and 5xx are retried (429 after its Retry-After); other answers fail the step.
 */
async function runHttp(run: StepRun, w: StepWith<"http">) {
  const method = w.method ?? (w.body === undefined ? "GET" : "POST");
  const body = w.body === undefined ? undefined : typeof w.body === "string" ? w.body : JSON.stringify(w.body);
  const headers: Record<string, string> = { "user-agent": "quarry-workflows", ...(w.headers ?? {}) };
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === "content-type");
  if (body !== undefined && !hasType) headers["content-type"] = typeof w.body === "string" ? "text/plain; charset=utf-8" : "application/json";
  const secret = run.deps.config.WEBHOOK_SECRET && workflowSigningSecret(run.deps.config.WEBHOOK_SECRET, run.tenantId);
  if (secret) {
    const id = `msg_${run.runId}_${run.stepId}`;
    const at = new Date();
    headers["webhook-id"] = id;
    headers["webhook-timestamp"] = String(Math.floor(at.getTime() / 1000));
    headers["webhook-signature"] = new Webhook(secret).sign(id, at, body ?? "");
  }
  let res;
  try {
    res = await run.deps.outbound.fetch(w.url, { method, headers, body, signal: run.signal, timeoutMs: run.budgetMs });
  } catch (err) {
    if (run.signal.aborted) throw err;
    if (isOutboundRefused(err)) throw stepFailed(err.code, err.message, err.code === "OUTBOUND_TIMEOUT");
    // The origin only: URLs often carry a secret in their path or query, and this message is logged.
    throw stepFailed("HTTP_STEP_UNREACHABLE", `${new URL(w.url).origin}: ${(err as Error).message}`, true);
  }
  const text = res.body.toString("utf8");
  const isJson = /\bjson\b/i.test(res.headers.get("content-type") ?? "");
  let parsed: unknown = text;
  if (isJson && text.trim()) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (res.status < 200 || res.status >= 300) {
    const retryable = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
    const after = Number(res.headers.get("retry-after"));
    // The status only: the answer's body is the receiver's, and the message travels to logs and Bull Board.
    throw stepFailed("HTTP_STEP_FAILED", `${method} answered ${res.status}`, retryable, Number.isFinite(after) && after > 0 ? Math.min(after, 600) : undefined);
  }
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: parsed };
}

/** Adds the text as a document (the same text again finds the same document) and waits until it is ready. */
async function runIngest(run: StepRun, w: StepWith<"ingest">) {
  const content = Buffer.from(w.text, "utf8");
  if (content.length > run.deps.config.MAX_FILE_SIZE) {
    throw permanent("INGEST_TOO_LARGE", `the text is ${content.length} bytes; documents are at most MAX_FILE_SIZE (${run.deps.config.MAX_FILE_SIZE}) bytes`);
  }
  const accepted = await acceptDocument(run.deps, run.tenantId, w.collection_id, {
    content,
    mimeType: "text/plain",
    title: w.title ?? null,
    metadata: w.metadata,
    externalId: w.external_id ?? null,
  });
  for (let wait = 200; ; wait = Math.min(wait * 2, 2_000)) {
    run.signal.throwIfAborted();
    const doc = await getDocument(run.deps, run.tenantId, accepted.document.id);
    if (doc.status === "ready") {
      return { document_id: doc.id, status: doc.status, chunk_count: doc.chunk_count, title: doc.title, created: accepted.created };
    }
    if (doc.status === "failed") {
      throw permanent("INGEST_FAILED", `document ${doc.id} failed: ${doc.error_code ?? "UNKNOWN"}${doc.error_message ? `: ${doc.error_message}` : ""}`);
    }
    await setTimeout(wait, undefined, { signal: run.signal }); // rejects at once when aborted
  }
}

async function runChat(run: StepRun, w: StepWith<"chat">) {
  const record = await chat(
    run.deps,
    run.tenantId,
    { collectionIds: w.collection_ids, message: w.message, topK: w.top_k, temperature: w.temperature, filter: w.filter },
    run.signal,
  );
  return { answer: record.answer, sources: record.sources, mode: record.mode, model: record.model, session_id: record.session_id };
}

const executors: { [T in StepTypeName]: (run: StepRun, w: StepWith<T>) => Promise<Record<string, unknown>> } = {
  search: runSearch,
  llm: runLlm,
  http: runHttp,
  ingest: runIngest,
  chat: runChat,
};

/** Runs one attempt of a step with its resolved `with`; returns its output. */
export function executeStep<T extends StepTypeName>(type: T, run: StepRun, w: StepWith<T>): Promise<Record<string, unknown>> {
  return executors[type](run, w);
}
