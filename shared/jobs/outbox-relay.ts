import type { EndStatus, JobError } from "../db/jobs.repository.ts";
import type { OutboxRow, OutboxTopic } from "../db/outbox.repository.ts";
import { deliverCallback, RetryLaterError } from "../callbacks/deliver-callback.ts";
import type { Deps } from "../deps.ts";
import { isJobName, jobDefinition } from "./index.ts";

/** Consumes one outbox row. Runs at least once per row, so it must be idempotent. `lastTry`: no retry follows a failure. */
export type OutboxHandler = (deps: Deps, row: OutboxRow, lastTry: boolean) => Promise<void>;

/**
 * Runs the ended job's `afterEnd` hook (cleanup outside Postgres: vectors, generations) for the
 * end this row records. A run that a retry has since superseded is left alone: the new run owns
 * the job's records now, and its own end will clean up after it.
 */
export const runAfterEnd: OutboxHandler = async (deps, row) => {
  const job = await deps.jobs.findById(row.job_id);
  if (!job || job.run !== row.run || !isJobName(job.type)) return;
  const definition = jobDefinition(job.type);
  if (!definition.afterEnd) return;
  const parsed = definition.schema.safeParse(job.payload);
  if (!parsed.success) {
    deps.logger.warn({ jobId: job.id, type: job.type }, "an ended job's stored payload no longer validates; its afterEnd hook was skipped");
    return;
  }
  const status = row.payload.status as EndStatus;
  await definition.afterEnd(deps, { status, data: parsed.data, job, error: (row.payload.error as JobError | undefined) ?? null, attempt: row.attempts });
};

/** The consumers of each topic. */
export const defaultOutboxHandlers: Record<OutboxTopic, OutboxHandler[]> = {
  "job.ended": [runAfterEnd],
  "job.callback": [deliverCallback],
};

const retryDelayMs = (attempts: number) => Math.min(5 * 60_000, 1_000 * 2 ** Math.min(attempts, 12));
/** About two hours of tries (backoff capped at 5 min); then the row is dead, kept for an operator. */
export const MAX_OUTBOX_ATTEMPTS = 30;

/**
 * Leases due outbox rows (so any number of processes can relay at once without two handling the
 * same row) and runs their topic's handlers, outside any transaction. A handler that throws leaves
 * the row for a later try with exponential backoff, up to {@link MAX_OUTBOX_ATTEMPTS}. Returns how
 * many rows were processed.
 */
export async function relayOutbox(deps: Deps, handlers: Partial<Record<OutboxTopic, OutboxHandler[]>> = defaultOutboxHandlers, limit = 5, jobId?: string): Promise<number> {
  const rows = await deps.outbox.claim(limit, LEASE_MS, jobId);
  const started = Date.now();
  let processed = 0;
  for (const row of rows) {
    // Rows whose lease is nearly gone are left for the next claim rather than run twice.
    if (Date.now() - started > LEASE_MS / 2) break;
    try {
      const lastTry = row.attempts >= MAX_OUTBOX_ATTEMPTS;
      for (const handle of handlers[row.topic] ?? []) await withTimeout(handle(deps, row, lastTry), HANDLER_TIMEOUT_MS);
      await deps.outbox.markProcessed(row.id, row.lease!);
      processed++;
    } catch (err) {
      const dead = row.attempts >= MAX_OUTBOX_ATTEMPTS;
      const fields = { err, outboxId: row.id, jobId: row.job_id, topic: row.topic, attempts: row.attempts };
      if (dead) deps.logger.error(fields, "outbox handler failed for good; the row is kept as dead");
      else deps.logger.warn(fields, "outbox handler failed; will retry");
      // A handler may name its own delay (a receiver's Retry-After); never sooner than the backoff.
      const delay = Math.max(retryDelayMs(row.attempts - 1), err instanceof RetryLaterError ? err.delayMs : 0);
      await deps.outbox.markFailed(row.id, row.lease!, err instanceof Error ? err.message : String(err), delay, dead);
    }
  }
  return processed;
}

/**
 * Runs what one job's ends still have pending, now (a retry must not start a new run before the
 * last one's cleanup). False when that did not finish within `timeoutMs` (a handler failing, or
 * another process's lease still running).
 */
export async function settleJobOutbox(deps: Deps, jobId: string, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await deps.outbox.pendingForJob(jobId)) {
    if (Date.now() > deadline) return false;
    if ((await relayOutbox(deps, defaultOutboxHandlers, 5, jobId)) === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

const LEASE_MS = 60_000;
const HANDLER_TIMEOUT_MS = 20_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the handler did not finish in ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
