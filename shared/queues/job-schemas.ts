import { z } from "zod";

/**
 * One zod schema per job. Each is used three times: by the API before a job is accepted, by
 * `enqueue()` before `Queue.add`, and by the worker again when the job is dequeued.
 */
export const jobSchemas = {
  ingest_document: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    document_id: z.uuid(),
  }),
  delete_document: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    document_id: z.uuid(),
  }),
  delete_collection: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
  }),
  /** System job (no durable record): re-enqueues jobs that Postgres has but Redis lost. */
  reconcile_jobs: z.object({
    older_than_ms: z.number().int().min(1000).default(10 * 60_000),
  }),
} as const;

/** Jobs the scheduler starts for itself; they have no row in `jobs` and no tenant. */
export const SYSTEM_JOBS = ["reconcile_jobs"] as const satisfies ReadonlyArray<keyof typeof jobSchemas>;

export type JobName = keyof typeof jobSchemas;
export type JobPayload<N extends JobName> = z.infer<(typeof jobSchemas)[N]>;
export const JOB_NAMES = Object.keys(jobSchemas) as JobName[];

export function isSystemJob(name: JobName): boolean {
  return (SYSTEM_JOBS as readonly string[]).includes(name);
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobSchemas, name);
}
