import type { EndStatus, JobError, JobRow } from "../db/jobs.repository.ts";
import { withTransaction, type Transaction } from "../db/transaction.ts";
import type { Deps } from "../deps.ts";
import { presentJob } from "../presenters.ts";
import { isJobName, jobDefinition } from "./index.ts";

export type JobOutcome =
  | { status: "succeeded"; result: object }
  | { status: "failed"; error: JobError }
  | { status: "cancelled"; error?: JobError };

export const CANCELLED: JobError = { code: "CANCELLED", message: "cancelled at the client's request" };

/**
 * The one place a durable job ends (each run of it: a retry starts the next run) — from a worker, the stalled-job backstop, the healer or the
 * API. In one transaction it moves the row to its end status, runs the definition's `onEnd` hook,
 * writes the `job.ended` outbox row and the `end` event. Exactly once: when two processes race,
 * the second waits on the row lock, finds the job ended, and gets `undefined` (nothing written).
 * Pass `tx` to end the job inside a transaction the caller already holds.
 */
export async function endJob(deps: Pick<Deps, "db" | "logger">, jobId: string, outcome: JobOutcome, tx?: Transaction): Promise<JobRow | undefined> {
  if (!tx) return withTransaction(deps.db, (own) => endJob(deps, jobId, outcome, own));
  const status: EndStatus = outcome.status;
  const error = outcome.status === "succeeded" ? null : (outcome.error ?? CANCELLED);
  const row = await tx.jobs.end(jobId, { status, result: outcome.status === "succeeded" ? outcome.result : null, error });
  if (!row) return undefined;
  if (isJobName(row.type)) {
    const definition = jobDefinition(row.type);
    const parsed = definition.schema.safeParse(row.payload);
    if (parsed.success) await definition.onEnd?.(tx, { status, data: parsed.data, job: row, error });
    else deps.logger.warn({ jobId, type: row.type }, "an ended job's stored payload no longer validates; its onEnd hook was skipped");
  }
  const view = presentJob(row);
  await tx.outbox.add({ topic: "job.ended", jobId, run: row.run, jobType: row.type, tenantId: row.tenant_id, resourceId: row.resource_id, payload: view });
  // Its own row: a receiver that is down retries on its own schedule, apart from the cleanup above.
  if (row.callback_url) await tx.outbox.add({ topic: "job.callback", jobId, run: row.run, jobType: row.type, tenantId: row.tenant_id, resourceId: row.resource_id, payload: view });
  await tx.jobs.addEvent(jobId, "end", view);
  return row;
}
