import { z } from "zod";
import { DURABLE_JOB_NAMES } from "../jobs/index.ts";
import { failure, timestamp, uuid } from "./common.schema.ts";

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;

/** The durable job record. `result` once it succeeded, `error` when it failed (or between retries). */
export const job = z.object({
  id: uuid,
  type: z.enum(DURABLE_JOB_NAMES as [string, ...string[]]),
  status: z.enum(JOB_STATUSES),
  progress: z.int().min(0).max(100),
  attempts: z.int().min(0),
  max_attempts: z.int().min(1),
  result: z.record(z.string(), z.unknown()).optional(),
  error: failure.optional(),
  created_at: timestamp,
  /** Set when a cancel was asked of a running job; it ends `cancelled` at its next boundary. */
  cancel_requested_at: timestamp.optional(),
  started_at: timestamp.optional(),
  finished_at: timestamp.optional(),
  /** GET /v1/jobs/:id only, when the request gave a callback_url: where its ends are POSTed, and the last 50 delivery attempts. */
  callback: z
    .object({
      url: z.string(),
      attempts: z.array(
        z.object({
          at: timestamp,
          run: z.int().min(1),
          status_code: z.int().nullable(),
          error: z.string().nullable(),
          outcome: z.enum(["delivered", "stopped", "retrying", "failed"]),
          duration_ms: z.int().min(0),
        }),
      ),
    })
    .optional(),
});

export type JobView = z.output<typeof job>;

/** What async endpoints answer with 202 (and the cancel route with 200). */
export const jobAccepted = z.object({ job });

/** The last event of a job stream that outlived its time limit: reconnect to keep following. */
export const jobStreamTimeout = z.object({ message: z.string() });
