import { randomUUID } from "node:crypto";
import type { Deps } from "../deps.ts";
import type { DbClient } from "../db/pool.ts";
import type { JobRow } from "../db/jobs.repository.ts";
import { unavailable } from "../errors/app-error.ts";
import { jobSchemas, type JobName, type JobPayload } from "../queues/job-schemas.ts";

/**
 * Writes the durable job record (inside the caller's transaction). Call {@link dispatchJob}
 * after the transaction commits.
 */
export async function recordJob<N extends JobName>(
  deps: Pick<Deps, "jobs" | "producer">,
  client: DbClient,
  job: { name: N; tenantId: string; payload: JobPayload<N>; resource?: { type: string; id: string } },
): Promise<JobRow> {
  const payload = jobSchemas[job.name].parse(job.payload);
  return deps.jobs.insert(client, {
    id: randomUUID(),
    tenantId: job.tenantId,
    type: job.name,
    maxAttempts: deps.producer.definition(job.name).options.attempts ?? 1,
    payload,
    resource: job.resource,
  });
}

/**
 * Enqueues a recorded job. When Redis refuses, the record is marked failed and a 503 is thrown,
 * so nothing is left half-accepted. `onRefused` lets the caller undo its own side (e.g. the document).
 */
export async function dispatchJob(
  deps: Pick<Deps, "jobs" | "producer" | "logger">,
  job: JobRow,
  onRefused?: (error: { code: string; message: string }) => Promise<void>,
): Promise<void> {
  try {
    await deps.producer.enqueue(job.type as JobName, job.id, job.payload as JobPayload<JobName>);
  } catch (cause) {
    const error = { code: "QUEUE_UNAVAILABLE", message: "the job queue could not be reached; the request was not accepted" };
    deps.logger.error({ err: cause, jobId: job.id }, "enqueue failed");
    await deps.jobs.markFailed(job.id, error, true);
    await onRefused?.(error);
    throw unavailable(error.code, error.message, cause);
  }
}
