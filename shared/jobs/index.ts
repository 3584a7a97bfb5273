import type { z } from "zod";
import type { QueueName } from "../config/env.ts";
import { createBackupJob } from "./create-backup.job.ts";
import { deleteCollectionJob } from "./delete-collection.job.ts";
import { deleteDocumentJob } from "./delete-document.job.ts";
import { embedChunksJob } from "./embed-chunks.job.ts";
import { ingestDocumentJob } from "./ingest-document.job.ts";
import type { JobDefinition } from "./job-definition.ts";
import { optimizeVectorsJob } from "./optimize-vectors.job.ts";
import { pruneBackupsJob } from "./prune-backups.job.ts";
import { reembedCollectionJob } from "./reembed-collection.job.ts";
import { restoreBackupJob } from "./restore-backup.job.ts";
import { runWorkflowJob } from "./run-workflow.job.ts";
import { scheduleBackupJob } from "./schedule-backup.job.ts";
import { workflowDeadlineJob } from "./workflow-deadline.job.ts";
import { workflowStepJob } from "./workflow-step.job.ts";

const definitions = {
  ingest_document: ingestDocumentJob,
  delete_document: deleteDocumentJob,
  delete_collection: deleteCollectionJob,
  reembed_collection: reembedCollectionJob,
  embed_chunks: embedChunksJob,
  optimize_vectors: optimizeVectorsJob,
  create_backup: createBackupJob,
  restore_backup: restoreBackupJob,
  schedule_backup: scheduleBackupJob,
  prune_backups: pruneBackupsJob,
  run_workflow: runWorkflowJob,
  workflow_step: workflowStepJob,
  workflow_deadline: workflowDeadlineJob,
};

export type JobName = keyof typeof definitions;

/**
 * The job catalog: every job type Quarry runs, keyed by its name. Cancel and retry rules, the
 * `/v1/jobs?type` values, the OpenAPI enum and the queues workers serve are all read from it.
 */
export const jobCatalog = definitions satisfies { [N in JobName]: JobDefinition<N> };

/** A job's payload as callers write it (defaults may be left out). */
export type JobPayload<N extends JobName> = z.input<(typeof jobCatalog)[N]["schema"]>;
/** A job's payload after validation. */
export type JobData<N extends JobName> = z.output<(typeof jobCatalog)[N]["schema"]>;

export const JOB_NAMES = Object.keys(jobCatalog) as JobName[];

/** Job types a tenant sees in `/v1/jobs`. */
export const PUBLIC_JOB_NAMES = JOB_NAMES.filter((n) => jobCatalog[n].visibility === "tenant");
/** Job types with a durable row (a tenant's or the operator's). */
export const DURABLE_JOB_NAMES = JOB_NAMES.filter((n) => jobCatalog[n].visibility !== "internal");

/** Queues some job type uses: a worker starts a BullMQ Worker for these only. */
export const QUEUES_IN_USE: ReadonlySet<QueueName> = new Set(JOB_NAMES.map((n) => jobCatalog[n].queue));

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobCatalog, name);
}

/** The definition of a job type, seen through the common interface (for code that serves every type). */
export function jobDefinition(name: JobName): JobDefinition {
  return jobCatalog[name] as JobDefinition;
}
