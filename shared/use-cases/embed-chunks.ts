import type { Deps } from "../deps.ts";
import { MAX_TOKENS_PER_REQUEST } from "../embeddings/openai.embedding-provider.ts";
import type { JobData, JobPayload } from "../jobs/index.ts";
import { reserveTokens } from "../queues/token-budget.ts";
import { pointId } from "./point-id.ts";
import type { MaintenanceTarget } from "./optimize-vectors.ts";
import { presentJob } from "../presenters.ts";

type ChunkKey = { document_id: string; chunk_index: number };

export interface BatchPlan {
  from: ChunkKey;
  to: ChunkKey;
  count: number;
}

/**
 * Groups chunk keys (in (document, index) order) into batches of at most `batchSize` chunks and
 * the provider's per-request token limit: one provider call per batch.
 */
export function planBatches(keys: Array<ChunkKey & { token_count: number }>, batchSize: number, maxTokens = MAX_TOKENS_PER_REQUEST): BatchPlan[] {
  const batches: BatchPlan[] = [];
  let current: BatchPlan | undefined;
  let tokens = 0;
  for (const key of keys) {
    if (!current || current.count >= batchSize || tokens + key.token_count > maxTokens) {
      current = { from: key, to: key, count: 0 };
      batches.push(current);
      tokens = 0;
    }
    current.to = key;
    current.count++;
    tokens += key.token_count;
  }
  return batches.map(({ from, to, count }) => ({
    from: { document_id: from.document_id, chunk_index: from.chunk_index },
    to: { document_id: to.document_id, chunk_index: to.chunk_index },
    count,
  }));
}

/** The embed_chunks payloads for a plan. */
export function batchJobs(
  plan: BatchPlan[],
  common: Omit<JobPayload<"embed_chunks">, "from" | "to">,
): Array<JobPayload<"embed_chunks">> {
  return plan.map((b) => ({ ...common, from: b.from, to: b.to }));
}

/**
 * Queues the collection's vector maintenance for the end of the current window of
 * VECTOR_MAINTENANCE_AFTER_WRITES_MS: every write in the window names the same job id, so a
 * collection being written to is compacted and indexed about once per window, a few seconds
 * behind its writes (each write adds a small LanceDB fragment, and a search slows with every one).
 * Best effort: the scheduled maintenance catches up on what a failed enqueue missed.
 */
export async function afterVectorWrites(deps: Deps, target: MaintenanceTarget & { version: number }): Promise<void> {
  const windowMs = deps.config.VECTOR_MAINTENANCE_AFTER_WRITES_MS;
  if (windowMs === 0 || deps.vectorStore.kind !== "embedded") return;
  const now = Date.now();
  const window = Math.floor(now / windowMs);
  await deps.producer
    .enqueue(
      "optimize_vectors",
      `optimize-${target.collectionId}-v${target.version}-${window}`,
      { collection_id: target.collectionId, vector_version: target.version, semantic: target.semantic },
      { delay: (window + 1) * windowMs - now },
    )
    .catch((err: unknown) => deps.logger.warn({ err, collectionId: target.collectionId }, "queueing vector maintenance after writes failed; the scheduled run will do it"));
}

export type EmbedOutcome = { done: number } | { retryInMs: number } | { stopped: true };

/**
 * One embedding batch: reserve its tokens in the shared per-minute budget (or ask to be retried
 * when the budget is spent), embed with one provider call, upsert the vectors with derived ids,
 * and report progress to the parent job. A batch whose parent was cancelled or has ended does
 * nothing; vectors of documents or collections deleted (or failed) meanwhile are removed again.
 */
export async function embedChunks(deps: Deps, payload: JobData<"embed_chunks">, checkpoint: () => Promise<void>): Promise<EmbedOutcome> {
  if (await deps.jobs.isStopping(payload.parent_job_id)) return { stopped: true };
  const chunks = await deps.chunks.range(payload.collection_id, payload.from, payload.to, { readyOnly: payload.ready_only });
  if (chunks.length === 0) return { done: 0 }; // the document was deleted meanwhile
  const tokens = chunks.reduce((sum, c) => sum + c.token_count, 0);
  const wait = await reserveTokens(deps.redis, deps.config.QUEUE_PREFIX, tokens, deps.config.EMBED_RATE_LIMIT_TPM);
  if (wait > 0) return { retryInMs: wait };

  const vectors = await deps.embedders.for(payload.embedding).embed(chunks.map((c) => c.text));
  await checkpoint();
  const ref = { tenantId: payload.tenant_id, collectionId: payload.collection_id, version: payload.vector_version };
  const collection = await deps.collections.findById(payload.collection_id);
  if (!collection || collection.status !== "active") return { stopped: true };
  await deps.vectorStore.upsert(
    ref,
    chunks.map((c, i) => ({
      id: pointId(c.document_id, c.chunk_index),
      vector: vectors[i]!,
      documentId: c.document_id,
      chunkIndex: c.chunk_index,
      metadata: c.metadata,
      text: c.text,
    })),
  );
  // Whatever was deleted (or failed, or cancelled) while this batch was embedding may already have
  // been cleaned up: clean up again what this batch just wrote for it. A status always flips
  // before its cleanup runs, so reading it after the upsert cannot miss one.
  const after = await deps.collections.findById(payload.collection_id);
  if (!after || after.status !== "active") {
    await deps.vectorStore.dropCollection({ tenantId: payload.tenant_id, collectionId: payload.collection_id });
    return { stopped: true };
  }
  await afterVectorWrites(deps, { collectionId: payload.collection_id, version: payload.vector_version, semantic: payload.embedding.provider !== "local" });
  const gone = await deps.documents.notLive([...new Set(chunks.map((c) => c.document_id))]);
  for (const documentId of gone) await deps.vectorStore.deleteDocument(ref, documentId);
  const moved = await deps.jobs.addUnits(payload.parent_job_id, chunks.length, payload.progress.base, payload.progress.span);
  if (moved) await deps.jobs.addEvent(moved.id, "progress", presentJob(moved));
  return { done: chunks.length };
}
