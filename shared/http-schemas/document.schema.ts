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
  mime_type: z.enum(PARSEABLE_MIME_TYPES as [string, ...string[]]).nullable().describe("detected from the bytes; null for a URL document not fetched yet"),
  size_bytes: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable().describe("of the bytes; null for a URL document not fetched yet"),
  page_count: z.int().min(0).optional().describe("pages (PDF, TIFF), sheets (XLSX, ODS), slides (PPTX) or chapters (EPUB), once parsed"),
  chunk_count: z.int().min(0),
  warnings: z
    .array(failure)
    .optional()
    .describe("what parsing left out or read badly: HIDDEN_SHEETS_SKIPPED, OCR_PAGES_SKIPPED, OCR_LOW_CONFIDENCE, …"),
  ocr: z
    .object({
      pages: z.array(z.object({ page: z.int().min(1), confidence: z.number().min(0).max(100) })).describe("the pages read by OCR, with their mean word confidence"),
      languages: z.array(z.string()),
    })
    .optional()
    .describe("present when some of the text was read by OCR"),
  source: z
    .object({
      url: z.string().describe("as it was posted"),
      final_url: z.string().optional().describe("the URL that answered, after redirects"),
      fetched_at: timestamp.optional().describe("when it was last fetched"),
    })
    .optional()
    .describe("for a document posted as {url}"),
  metadata: z.record(z.string(), z.unknown()),
  external_id: z.string().optional(),
  created_at: timestamp,
  updated_at: timestamp,
});

export type DocumentView = z.output<typeof document>;

/** `job` is the document's latest job: for the same content again (200), null when it has none left. */
export const documentAccepted = z.object({ document, job: job.nullable() });
