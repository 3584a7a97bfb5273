import { z } from "zod";
import { PARSEABLE_MIME_TYPES } from "../parsing/parsers.ts";
import { failure, timestamp, uuid } from "./common.schema.ts";
import { job } from "./job.schema.ts";

export const DOCUMENT_STATUSES = ["queued", "processing", "ready", "failed"] as const;

export const document = z.object({
  id: uuid,
  collection_id: uuid,
  title: z.string().nullable(),
  status: z.enum(DOCUMENT_STATUSES),
  error: failure.optional().describe("why it failed"),
  mime_type: z.enum(PARSEABLE_MIME_TYPES as [string, ...string[]]).describe("detected from the bytes"),
  size_bytes: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  page_count: z.int().min(0).optional().describe("PDF only, once parsed"),
  chunk_count: z.int().min(0),
  metadata: z.record(z.string(), z.unknown()),
  external_id: z.string().optional(),
  created_at: timestamp,
  updated_at: timestamp,
});

export type DocumentView = z.output<typeof document>;

/** `job` is the document's latest job: for the same content again (200), null when it has none left. */
export const documentAccepted = z.object({ document, job: job.nullable() });
