import { UnrecoverableError, type Job } from "bullmq";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors/app-error.ts";
import { isJobName, isSystemJob, jobSchemas, type JobName } from "../shared/queues/job-schemas.ts";
import { processors } from "./processors/index.ts";
import type { Processor } from "./processor.ts";

/** How a thrown error is recorded: its code, and whether retrying could help. */
export function classify(err: unknown): { code: string; message: string; retryable: boolean } {
  if (err instanceof AppError) return { code: err.code, message: err.message, retryable: err.retryable };
  if (err instanceof UnrecoverableError) return { code: "UNRECOVERABLE", message: err.message, retryable: false };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "INTERNAL", message, retryable: true };
}

/**
 * The BullMQ processor of every queue: validates the payload again, keeps the durable job record
 * current, and maps errors to retries (transient) or `UnrecoverableError` (permanent).
 */
export function createJobHandler(deps: Deps) {
  return async (job: Job, _token?: string, signal?: AbortSignal): Promise<Record<string, unknown>> => {
    const logger = deps.logger.child({ queue: job.queueName, jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
    const jobId = job.id!;
    if (!isJobName(job.name)) {
      await deps.jobs.markFailed(jobId, { code: "UNKNOWN_JOB", message: `no processor for job "${job.name}"` }, true);
      throw new UnrecoverableError(`no processor for job "${job.name}"`);
    }
    const name: JobName = job.name;
    const parsed = jobSchemas[name].safeParse(job.data);
    if (!parsed.success) {
      await deps.jobs.markFailed(jobId, { code: "INVALID_PAYLOAD", message: parsed.error.message }, true);
      throw new UnrecoverableError(`invalid payload for ${name}`);
    }
    if (isSystemJob(name)) {
      const processor = processors[name] as Processor<JobName>;
      return processor(parsed.data, { deps, logger, job, progress: (p) => job.updateProgress(p), signal });
    }
    if (!(await deps.jobs.markRunning(jobId, job.attemptsMade + 1))) {
      logger.info("job already ended (cancelled?); skipping");
      return { skipped: true };
    }
    const started = Date.now();
    const progress = async (percent: number) => {
      await job.updateProgress(percent);
      await deps.jobs.setProgress(jobId, percent);
    };
    try {
      const processor = processors[name] as Processor<JobName>;
      const result = await processor(parsed.data, { deps, logger, job, progress, signal });
      await deps.jobs.markSucceeded(jobId, result);
      logger.info({ ms: Date.now() - started }, "job succeeded");
      return result;
    } catch (err) {
      const { code, message, retryable } = classify(err);
      const attempts = job.opts.attempts ?? 1;
      const final = !retryable || job.attemptsMade + 1 >= attempts;
      await deps.jobs.markFailed(jobId, { code, message }, final);
      if (final) await onFinalFailure(deps, name, parsed.data, { code, message });
      logger[final ? "error" : "warn"]({ err, code, final, ms: Date.now() - started }, final ? "job failed" : "job failed; will retry");
      if (!retryable) throw new UnrecoverableError(`${code}: ${message}`);
      throw err;
    }
  };
}

/** Side effects of a job ending in failure on the resource it acted on. */
async function onFinalFailure(deps: Deps, name: JobName, payload: unknown, error: { code: string; message: string }) {
  if (name === "ingest_document") {
    await deps.documents.setStatus((payload as { document_id: string }).document_id, "failed", error);
  }
}
