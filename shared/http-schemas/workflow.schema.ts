import { z } from "zod";
import { STEP_TYPE_NAMES } from "../workflows/step-types.ts";
import { failure, timestamp, uuid } from "./common.schema.ts";
import { JOB_STATUSES, job } from "./job.schema.ts";

export const workflowStep = z.object({
  id: z.string(),
  type: z.enum(STEP_TYPE_NAMES),
  with: z.record(z.string(), z.unknown()),
  needs: z.array(z.string()),
  timeout_s: z.int().min(1).optional(),
  retries: z.int().min(0),
});

/** A workflow at one version (the current one unless `?version` asked for another). */
export const workflow = z.object({
  id: uuid,
  name: z.string(),
  version: z.int().min(1),
  description: z.string().optional(),
  steps: z.array(workflowStep),
  timeout_s: z.int().min(1),
  max_retries: z.int().min(0),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  created_at: timestamp,
  updated_at: timestamp.describe("when this version was stored"),
});

export const STEP_STATUSES = ["pending", "queued", "running", "succeeded", "failed", "cancelled", "skipped"] as const;

export const workflowRunStep = z.object({
  id: z.string(),
  type: z.enum(STEP_TYPE_NAMES),
  needs: z.array(z.string()),
  status: z.enum(STEP_STATUSES).describe("pending: waiting for its needs; skipped: the run ended before it started"),
  attempts: z.int().min(0),
  output: z.unknown().describe("once it succeeded; the first 64 KiB of its JSON (a string) when output_truncated"),
  output_truncated: z.literal(true).optional(),
  output_bytes: z.int().min(0).nullable().describe("size of the output's JSON"),
  error: failure.nullable().describe("the last attempt's error (kept while the step waits for its next attempt)"),
  queued_at: timestamp.nullable(),
  started_at: timestamp.nullable(),
  finished_at: timestamp.nullable(),
  duration_ms: z.int().min(0).nullable(),
});

/** A run: its status is its job's; steps only on GET /v1/workflow-runs/:id. */
export const workflowRun = z.object({
  id: uuid,
  workflow_id: uuid,
  version: z.int().min(1),
  job_id: uuid,
  status: z.enum(JOB_STATUSES),
  input: z.unknown().optional().describe("GET /v1/workflow-runs/:id and the answer to POST …/runs only; lists leave it out"),
  error: failure.optional(),
  created_at: timestamp,
  started_at: timestamp.optional(),
  finished_at: timestamp.optional(),
  deadline_at: timestamp.nullable().describe("started_at + timeout_s, once a worker has started the run"),
  steps: z.array(workflowRunStep).optional(),
});

/** The key this tenant's http steps are signed with (Standard Webhooks); null when WEBHOOK_SECRET is unset and they go unsigned. */
export const workflowSigningSecret = z.object({ secret: z.string().nullable().meta({ examples: ["whsec_…"] }) });

/** `POST /v1/workflows/:id/runs` answers the run and its job. */
export const workflowRunAccepted = z.object({ run: workflowRun, job });

export type WorkflowView = z.output<typeof workflow>;
export type WorkflowRunView = z.output<typeof workflowRun>;
export type WorkflowRunStepView = z.output<typeof workflowRunStep>;
