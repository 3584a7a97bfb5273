import type { OutboxRow, OutboxTopic } from "../db/outbox.repository.ts";
import { withTransaction } from "../db/transaction.ts";
import type { Deps } from "../deps.ts";
import { isJobName, jobDefinition } from "./index.ts";

/** Consumes one outbox row. Runs at least once per row, so it must be idempotent. */
export type OutboxHandler = (deps: Deps, row: OutboxRow) => Promise<void>;

/** Runs the ended job's `afterEnd` hook (cleanup outside Postgres: vectors, generations). */
export const runAfterEnd: OutboxHandler = async (deps, row) => {
  const job = await deps.jobs.findById(row.job_id);
  if (!job || !isJobName(job.type) || (job.status !== "succeeded" && job.status !== "failed" && job.status !== "cancelled")) return;
  const definition = jobDefinition(job.type);
  if (!definition.afterEnd) return;
  const data = definition.schema.parse(job.payload);
  await definition.afterEnd(deps, { status: job.status, data, job, error: job.error });
};

/** The consumers of each topic; the callback sender joins `job.ended` with the workflows issue. */
export const defaultOutboxHandlers: Record<OutboxTopic, OutboxHandler[]> = {
  "job.ended": [runAfterEnd],
};

const retryDelayMs = (attempts: number) => Math.min(5 * 60_000, 1_000 * 2 ** Math.min(attempts, 12));

/**
 * Claims due outbox rows (FOR UPDATE SKIP LOCKED, so any number of processes can relay at once
 * without two handling the same row) and runs their topic's handlers. A handler that throws leaves
 * the row for a later try, with exponential backoff. Returns how many rows were processed.
 */
export async function relayOutbox(deps: Deps, handlers = defaultOutboxHandlers, limit = 20): Promise<number> {
  return withTransaction(deps.db, async (tx) => {
    const rows = await tx.outbox.claim(limit);
    let processed = 0;
    for (const row of rows) {
      try {
        for (const handle of handlers[row.topic] ?? []) await handle(deps, row);
        await tx.outbox.markProcessed(row.id);
        processed++;
      } catch (err) {
        deps.logger.warn({ err, outboxId: row.id, jobId: row.job_id, topic: row.topic, attempts: row.attempts + 1 }, "outbox handler failed; will retry");
        await tx.outbox.markFailed(row.id, err instanceof Error ? err.message : String(err), retryDelayMs(row.attempts));
      }
    }
    return processed;
  });
}
