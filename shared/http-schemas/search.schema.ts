import { z } from "zod";
import { uuid } from "./common.schema.ts";

export const searchHit = z.object({
  document_id: uuid,
  chunk_index: z.int().min(0),
  score: z.number().describe("cosine similarity: 1 is the same direction"),
  text: z.string(),
  title: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  page: z.int().min(1).optional().describe("where the passage starts (PDF)"),
  heading: z.string().optional().describe("where the passage starts (DOCX, HTML, Markdown, CSV rows)"),
});

export const searchResults = z.object({ data: z.array(searchHit).describe("best first") });
