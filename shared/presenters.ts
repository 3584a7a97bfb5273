import type { CollectionRow } from "./db/collections.repository.ts";
import type { DocumentRow } from "./db/documents.repository.ts";
import type { JobRow } from "./db/jobs.repository.ts";
import type { CollectionView } from "./http-schemas/collection.schema.ts";
import type { DocumentView } from "./http-schemas/document.schema.ts";
import type { JobView } from "./http-schemas/job.schema.ts";
import type { WorkflowRunStepView, WorkflowRunView, WorkflowView } from "./http-schemas/workflow.schema.ts";
import type { WorkflowRow, WorkflowRunRow, WorkflowStepRow } from "./db/workflows.repository.ts";
import { preview } from "./workflows/output-preview.ts";
import type { WorkflowDefinition } from "./workflows/workflow-definition.ts";

/**
 * The API's JSON shapes, built from rows and typed by the response schemas in `http-schemas/`
 * (which `/openapi.json` publishes). Optional fields are left out when empty.
 */

export function presentCollection(row: CollectionRow): CollectionView {
  return {
    id: row.id,
    name: row.name,
    embedding: row.embedding,
    document_count: row.document_count,
    ...(row.pending_embedding ? { reembedding_to: row.pending_embedding } : {}),
    created_at: row.created_at.toISOString(),
  };
}

export function presentDocument(row: DocumentRow): DocumentView {
  return {
    id: row.id,
    collection_id: row.collection_id,
    title: row.title,
    // Every read of a document leaves out those being deleted (documents.repository.ts).
    status: row.status as DocumentView["status"],
    ...(row.error_code ? { error: { code: row.error_code, message: row.error_message ?? "" } } : {}),
    mime_type: row.mime_type,
    size_bytes: row.size_bytes,
    sha256: row.sha256,
    ...(row.page_count !== null ? { page_count: row.page_count } : {}),
    chunk_count: row.chunk_count,
    ...(row.warnings.length > 0 ? { warnings: row.warnings } : {}),
    ...(row.ocr ? { ocr: row.ocr } : {}),
    ...(row.source_url
      ? {
          source: {
            url: row.source_url,
            ...(row.final_url ? { final_url: row.final_url } : {}),
            ...(row.fetched_at ? { fetched_at: row.fetched_at.toISOString() } : {}),
          },
        }
      : {}),
    metadata: row.metadata,
    ...(row.external_id ? { external_id: row.external_id } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function presentJob(row: JobRow): JobView {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    progress: row.progress,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    ...(row.result ? { result: row.result } : {}),
    ...(row.error ? { error: row.error } : {}),
    created_at: row.created_at.toISOString(),
    ...(row.cancel_requested_at ? { cancel_requested_at: row.cancel_requested_at.toISOString() } : {}),
    ...(row.started_at ? { started_at: row.started_at.toISOString() } : {}),
    ...(row.finished_at ? { finished_at: row.finished_at.toISOString() } : {}),
  };
}

export function presentWorkflow(row: WorkflowRow): WorkflowView {
  const d = row.definition;
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    ...(d.description ? { description: d.description } : {}),
    steps: d.steps.map((s) => ({ id: s.id, type: s.type, with: s.with, needs: s.needs, ...(s.timeout_s ? { timeout_s: s.timeout_s } : {}), retries: s.retries })),
    timeout_s: d.timeout_s,
    max_retries: d.max_retries,
    ...(d.input_schema ? { input_schema: d.input_schema } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

function presentStep(definition: WorkflowDefinition, row: WorkflowStepRow | undefined, id: string): WorkflowRunStepView {
  const step = definition.steps.find((s) => s.id === id)!;
  const shown = row?.status === "succeeded" ? preview(row.output, row.output_bytes) : { output: null };
  return {
    id,
    type: step.type,
    needs: step.needs,
    status: row?.status ?? "pending",
    attempts: row?.attempts ?? 0,
    ...shown,
    output_bytes: row?.status === "succeeded" ? row.output_bytes : null,
    error: row?.error ?? null,
    queued_at: iso(row?.queued_at ?? null),
    started_at: iso(row?.started_at ?? null),
    finished_at: iso(row?.finished_at ?? null),
    duration_ms: row?.started_at && row.finished_at ? Math.max(0, row.finished_at.getTime() - row.started_at.getTime()) : null,
  };
}

/** A run; with `detail` its steps too. Lists leave the input out (it may be large). */
export function presentRun(run: WorkflowRunRow, job: JobRow, detail?: { steps: WorkflowStepRow[]; definition: WorkflowDefinition }, withInput = detail !== undefined): WorkflowRunView {
  const byId = new Map(detail?.steps.map((s) => [s.step_id, s]));
  return {
    id: run.id,
    workflow_id: run.workflow_id,
    version: run.version,
    job_id: job.id,
    status: job.status,
    ...(withInput ? { input: run.input } : {}),
    ...(job.error ? { error: job.error } : {}),
    created_at: run.created_at.toISOString(),
    ...(job.started_at ? { started_at: job.started_at.toISOString() } : {}),
    ...(job.finished_at ? { finished_at: job.finished_at.toISOString() } : {}),
    deadline_at: iso(run.deadline_at),
    ...(detail ? { steps: detail.definition.steps.map((s) => presentStep(detail.definition, byId.get(s.id), s.id)) } : {}),
  };
}
