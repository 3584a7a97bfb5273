import { z } from "zod";

const embeddingSpec = z.object({ provider: z.string(), model: z.string(), dimensions: z.number().int().positive() });
const chunkKey = z.object({ document_id: z.uuid(), chunk_index: z.number().int().min(0) });

/**
 * One zod schema per job. Each is used three times: by the use case before a job is recorded, by
 * `enqueue()` before `Queue.add`, and by the worker again when the job is dequeued.
 */
export const jobSchemas = {
  /** Parse and chunk a document, fan out `embed_chunks`, then mark it ready. */
  ingest_document: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    document_id: z.uuid(),
    /** Where a resumed job continues: set by the job itself once its children are queued. */
    step: z.enum(["parse", "finalize"]).default("parse"),
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
  /** Re-embed every chunk of a collection with another model into a new vector generation. */
  reembed_collection: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    embedding: embeddingSpec,
    step: z.enum(["plan", "finalize"]).default("plan"),
    /** The generation the plan step wrote to; finalize switches to exactly this one. */
    target_version: z.number().int().min(1).optional(),
  }),
  /** Internal: embed the chunks from..to (inclusive, in (document, index) order) and upsert them. */
  embed_chunks: z.object({
    tenant_id: z.string().min(1),
    collection_id: z.uuid(),
    vector_version: z.number().int().min(0),
    embedding: embeddingSpec,
    from: chunkKey,
    to: chunkKey,
    /** The durable job this batch belongs to (its progress and failure). */
    parent_job_id: z.uuid(),
    /** Progress of the parent: base + span × done / total. */
    progress: z.object({ base: z.number(), span: z.number() }),
    /** Re-embeds take only chunks of ready documents (failed ones may sit between the keys). */
    ready_only: z.boolean().default(false),
  }),
  /** Internal: compacts and indexes every collection's vectors (embedded store). */
  optimize_vectors: z.object({}),
  /** Internal: re-enqueues jobs that Postgres has but Redis lost. */
  reconcile_jobs: z.object({
    older_than_ms: z.number().int().min(1000).default(10 * 60_000),
  }),
} as const;

/** Jobs with no row in `jobs`: the scheduler's own, and batches that report to a parent job. */
export const INTERNAL_JOBS = ["reconcile_jobs", "embed_chunks", "optimize_vectors"] as const satisfies ReadonlyArray<keyof typeof jobSchemas>;

export type JobName = keyof typeof jobSchemas;
export type JobPayload<N extends JobName> = z.input<(typeof jobSchemas)[N]>;
export type JobData<N extends JobName> = z.output<(typeof jobSchemas)[N]>;
export const JOB_NAMES = Object.keys(jobSchemas) as JobName[];
/** Job types a tenant sees in `/v1/jobs`. */
export const PUBLIC_JOB_NAMES = JOB_NAMES.filter((n) => !(INTERNAL_JOBS as readonly string[]).includes(n));

export function isInternalJob(name: JobName): boolean {
  return (INTERNAL_JOBS as readonly string[]).includes(name);
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(jobSchemas, name);
}
