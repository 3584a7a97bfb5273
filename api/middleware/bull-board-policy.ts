import type { NextFunction, Request, Response } from "express";
import { QUEUE_NAMES, type QueueName } from "../../shared/config/env.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import { isJobName, JOB_NAMES, jobDefinition } from "../../shared/jobs/index.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

const refused = (message: string) => new AppError("BULL_BOARD_ACTION_REFUSED", message, { httpStatus: 403 });
const jobRefused = (message: string) => new AppError("BULL_BOARD_JOB_REFUSED", message, { httpStatus: 409 });

// Paths as Bull Board's router sees them (below /admin/queues). Express matches routes without
// regard to case or a trailing slash, so these do too.
const PAUSE_ALL = /^\/api\/queues\/(pause|resume)\/?$/i;
const PAUSE_ONE = /^\/api\/queues\/[^/]+\/(pause|resume)\/?$/i;
/** Bull Board declares these before the per-job routes: `/retry/<status>` is never a job named "retry". */
const BULK = /^\/api\/queues\/([^/]+)\/(retry|clean)\/([^/]+)\/?$/i;
const ONE_JOB = /^\/api\/queues\/([^/]+)\/([^/]+)\/(retry|clean|promote)\/?$/i;

const decoded = (raw: string): string => {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
};

const asQueue = (raw: string): QueueName | undefined => {
  const name = decoded(raw);
  return (QUEUE_NAMES as readonly string[]).includes(name) ? (name as QueueName) : undefined;
};

/**
 * "Clean all" of completed or failed jobs checks no record one by one: while a job of the queue
 * is unfinished in Postgres, its BullMQ job may be one of those (ended in Redis, not yet heard by
 * the record), and the healer would queue a removed one again from its first step. Refused until
 * the records have caught up.
 */
async function checkBulkClean(deps: Deps, rawQueue: string): Promise<void> {
  const queue = asQueue(rawQueue);
  if (!queue) return; // Bull Board answers 404 itself
  const types = Object.keys(jobCatalogOf(queue));
  const unfinished = await deps.jobs.countUnfinished(types);
  if (unfinished > 0) {
    throw jobRefused(`${unfinished} job(s) of the ${queue} queue are still unfinished in Postgres; a finished one among those cleaned would be run again by the job healer. Remove jobs one by one, or clean when the queue is idle`);
  }
}

const jobCatalogOf = (queue: QueueName) => Object.fromEntries(JOB_NAMES.filter((n) => jobDefinition(n).queue === queue && jobDefinition(n).visibility !== "internal").map((n) => [n, true]));

/** Refuses what Bull Board must not do to one job (see docs/operations.md, "Bull Board"); lets the rest through. */
async function checkJobAction(deps: Deps, queueName: QueueName, jobId: string, action: string): Promise<void> {
  const job = await deps.producer.queue(queueName).getJob(jobId);
  if (!job) return; // Bull Board answers 404 itself
  const state = await job.getState();
  const definition = isJobName(job.name) ? jobDefinition(job.name) : undefined;
  const durable = definition !== undefined && definition.visibility !== "internal";
  const owner = definition?.owner?.(job.data as never);
  if (action === "retry") {
    if (state !== "failed") throw jobRefused(`only failed jobs are retried here; this one is ${state}`);
    if (durable) {
      throw jobRefused(`${job.name} jobs have a record in Postgres, which says this one has ended: retry it with POST /v1/jobs/${job.id}/retry (its tenant's API key; ADMIN_TOKEN for backups and restores)`);
    }
    if (owner) throw jobRefused(`this ${job.name} job works for job ${owner}, which has ended with it: retry that one with POST /v1/jobs/${owner}/retry`);
    return;
  }
  if (action === "clean") {
    if (state !== "completed" && state !== "failed") {
      throw jobRefused(`only completed or failed jobs are removed here (the job healer would queue a ${state} one again); cancel it with POST /v1/jobs/${owner ?? job.id}/cancel`);
    }
    if (durable) {
      const row = await deps.jobs.findById(job.id!);
      if (row && (row.status === "queued" || row.status === "running")) {
        throw jobRefused(`its record has not heard that it ${state === "failed" ? "failed" : "completed"} yet (the job healer settles it within a minute): remove it after that`);
      }
    }
    return;
  }
  // promote: a retry's backoff may be cut short; a delay Quarry set on purpose (a workflow's deadline) may not.
  if (state !== "delayed") throw jobRefused(`only delayed jobs are promoted; this one is ${state}`);
  if (job.attemptsMade === 0) throw jobRefused(`this ${job.name} job is not waiting out a retry's backoff: its delay is a timer Quarry set, and promoting it would fire it early`);
}

/**
 * Bull Board's write routes, server-side: with `BULL_BOARD_READ_ONLY` none (403
 * BULL_BOARD_READ_ONLY); otherwise only those that cannot make Redis disagree with the job records
 * in Postgres — pause and resume, retry a failed maintenance job, remove a completed or failed job,
 * promote a job out of its retry's backoff. Adding, editing or emptying jobs, queues and schedulers
 * is refused (403 BULL_BOARD_ACTION_REFUSED); so is an allowed action on a job it does not fit (409).
 */
export function bullBoardPolicy(deps: Deps, readOnly: boolean) {
  const check = async (req: Request): Promise<void> => {
    if (readOnly) throw new AppError("BULL_BOARD_READ_ONLY", "Bull Board is read-only here (BULL_BOARD_READ_ONLY=true): it changes nothing", { httpStatus: 403 });
    const path = req.path;
    if (req.method !== "PUT") throw refused(`Bull Board may not ${req.method} ${req.baseUrl}${path} here: jobs are added and changed through Quarry's API, so that their records in Postgres stay true`);
    if (PAUSE_ALL.test(path) || PAUSE_ONE.test(path)) return;
    const bulk = BULK.exec(path);
    if (bulk) {
      const [, , verb, status] = bulk;
      if (verb!.toLowerCase() === "clean" && /^(completed|failed)$/.test(status!)) return checkBulkClean(deps, bulk[1]!);
      throw refused(
        verb!.toLowerCase() === "retry"
          ? "Bull Board retries no whole list here: most jobs have a record in Postgres and are retried with POST /v1/jobs/:id/retry"
          : "only completed and failed jobs are cleaned here: the job healer would queue waiting or delayed ones again",
      );
    }
    const one = ONE_JOB.exec(path);
    if (!one) throw refused(`Bull Board may not change ${req.baseUrl}${path} here: adding, editing, emptying or obliterating jobs, queues and schedulers, and their limits, is left to Quarry (its settings and its API)`);
    const queue = asQueue(one[1]!);
    // (Not a queue of Quarry's: Bull Board answers 404 itself.)
    if (queue) await checkJobAction(deps, queue, decoded(one[2]!), one[3]!.toLowerCase());
  };
  return async (req: Request, res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method)) return next();
    try {
      await check(req);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // Quarry's error shape, plus what Bull Board's page reads (a translation key for the
      // headline, the message under it), so the operator sees why in the board itself.
      const key = err.code === "BULL_BOARD_READ_ONLY" ? "ERRORS.QUEUE_READ_ONLY" : "ERRORS.FORBIDDEN";
      res.status(err.httpStatus).json({ error: { code: err.code, message: err.message, key }, code: err.code, message: err.message });
      return;
    }
    next();
  };
}
