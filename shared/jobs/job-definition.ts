import type { JobsOptions } from "bullmq";
import type { z } from "zod";
import type { Config, QueueName } from "../config/env.ts";
import type { EndStatus, JobError, JobRow } from "../db/jobs.repository.ts";
import type { Repositories, Transaction } from "../db/transaction.ts";
import type { Deps } from "../deps.ts";

/** Settings every definition may read when it builds its BullMQ options. */
export interface JobDefaults {
  /** `JOB_ATTEMPTS` */
  attempts: number;
}

/** How a durable job ended, as its hooks see it. */
export interface JobEnd<D> {
  status: EndStatus;
  data: D;
  job: JobRow;
  error: JobError | null;
  /** `afterEnd` only: which try of the outbox this is (1 the first time), so a hook can count an end once. */
  attempt?: number;
}

/**
 * Everything Quarry knows about one job type. A new job type is one `<name>.job.ts` with its
 * definition, one processor in workers/processors/, and one line in each index.
 */
export interface JobDefinition<N extends string = string, S extends z.ZodType = z.ZodType> {
  name: N;
  /** Validated three times: when the job is recorded, before `Queue.add`, and again on dequeue. */
  schema: S;
  queue: QueueName;
  /** BullMQ options (attempts, backoff, retention); the BullMQ job id is always Quarry's own. */
  options(defaults: JobDefaults): Omit<JobsOptions, "jobId">;
  /**
   * `tenant`: a durable row in `jobs` that its tenant reads at `/v1/jobs`. `ops`: a durable row of
   * the operator (tenant `@ops`, read with `ADMIN_TOKEN`). `internal`: no row — scheduled
   * maintenance, or a batch that reports to the durable job named by `owner`.
   */
  visibility: "tenant" | "ops" | "internal";
  /** The durable job an internal job works for: its failure fails that job, its cancel stops this one. */
  owner?(data: z.output<S>): string;
  /** When `POST /v1/jobs/:id/cancel` may stop it: never, only before it starts, or also while it runs. */
  cancel: "never" | "queued" | "running";
  /** Whether `POST /v1/jobs/:id/retry` may run a failed or cancelled one again from its first step. */
  retry: boolean;
  /** The payload that starts the job over from its first step (retry, or Redis lost it). */
  restart?(data: z.output<S>): z.input<S>;
  /**
   * Its BullMQ priority whenever it is queued — accepted, retried, or queued again by the healer
   * (1 runs first; none: ahead of every prioritized job, in arrival order).
   */
  priority?(ctx: { repos: Pick<Repositories, "documents">; config: Pick<Config, "TENANT_FAIR_QUEUING"> }, data: z.output<S>): Promise<number | undefined>;
  /** Inside the transaction that ends the job: what its end does to the records it belongs to. */
  onEnd?(tx: Transaction, end: JobEnd<z.output<S>>): Promise<void>;
  /** After that transaction, from the outbox (at least once, so idempotent): cleanup outside Postgres. */
  afterEnd?(deps: Deps, end: JobEnd<z.output<S>>): Promise<void>;
  /** Inside the retry's transaction, before the job is queued again; throw an AppError to refuse. */
  onRetry?(tx: Transaction, data: z.output<S>): Promise<void>;
}

/** Types a definition (the name stays a literal, hooks see the schema's output). */
export function defineJob<const N extends string, S extends z.ZodType>(definition: JobDefinition<N, S>): JobDefinition<N, S> {
  return definition;
}

/** The backoff every retried job uses; see `backoffDelay` in workers/backoff.ts. */
export const BACKOFF_TYPE = "quarry";

/** BullMQ options of a job retried with Quarry's backoff, kept a day when done and a week when failed. */
export function retried(attempts: number): Omit<JobsOptions, "jobId"> {
  return {
    attempts,
    backoff: { type: BACKOFF_TYPE, delay: 2_000 },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
  };
}

/** An operator's job (backup, restore): 3 attempts, kept a week when done and a month when failed. */
export function operatorJob(backoffMs: number): Omit<JobsOptions, "jobId"> {
  return {
    attempts: 3,
    backoff: { type: BACKOFF_TYPE, delay: backoffMs },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

/** Maintenance runs once per schedule tick; kept by age only (BullMQ's `count` trims the whole queue). */
export const runOnce: Omit<JobsOptions, "jobId"> = { attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };

