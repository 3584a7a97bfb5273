import { randomUUID } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { withTransaction, type Transaction } from "../db/transaction.ts";
import { unavailable } from "../errors/app-error.ts";
import { endJob } from "../jobs/end-job.ts";
import { jobDefinition, type JobName, type JobPayload } from "../jobs/index.ts";

/** Redis refused a job while its request's transaction was open: the transaction rolls back. */
class QueueRefusedError extends Error {
  readonly job: JobRow;
  constructor(job: JobRow, cause: unknown) {
    super("the job queue could not be reached", { cause });
    this.job = job;
  }
}

/**
 * Held by a transaction that records or re-queues a job, until it commits or rolls back. A
 * worker's `UPDATE … WHERE status IN ('queued','running')` does not wait for an uncommitted row
 * change (it checks the committed version, which does not match), so this lock is what it waits on.
 */
export const lockAcceptance = (tx: Transaction, jobId: string) => tx.client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [jobId]);

/**
 * Records a durable job inside the caller's transaction and enqueues it just before that
 * transaction commits (see {@link acceptWork}). Redis refusing it rolls the whole request back.
 */
export async function recordJob<N extends JobName>(
  deps: Pick<Deps, "producer" | "config">,
  tx: Transaction,
  job: { name: N; tenantId: string; payload: JobPayload<N>; resource?: { type: string; id: string }; callbackUrl?: string | null },
): Promise<JobRow> {
  const definition = jobDefinition(job.name);
  const payload = definition.schema.parse(job.payload) as object;
  const row = await tx.jobs.insert({
    id: randomUUID(),
    tenantId: job.tenantId,
    type: job.name,
    maxAttempts: deps.producer.options(job.name).attempts ?? 1,
    payload,
    resource: job.resource,
    callbackUrl: job.callbackUrl,
  });
  // A worker that takes the job before this transaction commits waits on this lock (awaitAcceptance).
  await lockAcceptance(tx, row.id);
  const priority = await definition.priority?.({ repos: tx, config: deps.config }, payload);
  tx.beforeCommit(async () => {
    try {
      await deps.producer.enqueue(job.name, row.id, payload as JobPayload<N>, priority ? { priority } : {});
    } catch (cause) {
      throw new QueueRefusedError(row, cause);
    }
  });
  return row;
}

/**
 * Runs a request that accepts work: its changes and its jobs commit together only once Redis has
 * the jobs, so nothing is ever half-accepted. When Redis refuses, nothing is applied, the refused
 * job is recorded as failed with `QUEUE_UNAVAILABLE`, and the request answers 503.
 */
export async function acceptWork<T>(deps: Pick<Deps, "db" | "logger">, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  try {
    return await withTransaction(deps.db, fn);
  } catch (err) {
    if (!(err instanceof QueueRefusedError)) throw err;
    const error = { code: "QUEUE_UNAVAILABLE", message: "the job queue could not be reached; the request was not accepted" };
    deps.logger.warn({ err: { message: (err.cause as Error | undefined)?.message }, jobId: err.job.id }, "enqueue failed; request refused");
    // A job that reached Redis after all (a timed-out add) then finds its row failed and does nothing.
    await withTransaction(deps.db, async (tx) => {
      const { id, tenant_id, type, max_attempts, payload, resource_type, resource_id } = err.job;
      await tx.jobs.insert({ id, tenantId: tenant_id, type, maxAttempts: max_attempts, payload, resource: resource_type && resource_id ? { type: resource_type, id: resource_id } : undefined });
      await endJob(deps, id, { status: "failed", error }, tx);
    }).catch((recordErr: unknown) => deps.logger.warn({ err: recordErr, jobId: err.job.id }, "could not record the refused job"));
    throw unavailable(error.code, error.message, err.cause);
  }
}

/**
 * A worker found no row for its job: the request that recorded it may not have committed yet.
 * Waits for that transaction to end (it holds the job's advisory lock); the caller then reads the
 * row again, and finding none means the request was rolled back and the job must not run.
 */
export async function awaitAcceptance(deps: Pick<Deps, "db">, jobId: string): Promise<void> {
  await withTransaction(deps.db, async (tx) => {
    await tx.client.query("SET LOCAL statement_timeout = 30000");
    await lockAcceptance(tx, jobId);
  });
}
