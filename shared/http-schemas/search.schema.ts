import { z } from "zod";
import { uuid } from "./common.schema.ts";

export const searchHit = z.object({
  document_id: uuid,
  chunk_index: z.int().min(0),
  score: z
    .number()
    .describe("what the hits are ordered by: cosine similarity (vector), BM25 (keyword), reciprocal rank fusion (hybrid), or the reranker's relevance when reranked"),
  scores: z
    .object({
      vector: z.number().optional().describe("cosine similarity, when the vector search found it"),
      keyword: z.number().optional().describe("BM25 score, when the keyword search found it"),
      rerank: z.number().optional().describe("the reranker's relevance score"),
    })
    .describe("the signals behind score"),
  text: z.string(),
  title: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  page: z.int().min(1).optional().describe("where the passage starts (PDF, TIFF)"),
  heading: z.string().optional().describe("where the passage starts (DOCX, HTML, Markdown, CSV rows, EPUB chapters)"),
  sheet: z.string().optional().describe("the spreadsheet's sheet (XLSX, ODS)"),
  slide: z.int().min(1).optional().describe("the slide (PPTX)"),
  ocr_confidence: z.number().min(0).max(100).optional().describe("mean word confidence 0–100, when the text was read by OCR"),
});

export const searchWarning = z.object({
  code: z.enum(["RERANK_FAILED", "KEYWORD_INDEX_INCOMPLETE", "KEYWORD_SEARCH_UNAVAILABLE"]),
  message: z.string(),
});

export const searchResults = z.object({
  data: z.array(searchHit).describe("best first"),
  mode: z.enum(["vector", "keyword", "hybrid"]).describe("the mode used"),
  reranked: z.boolean().describe("whether the reranker ordered the hits"),
  warnings: z.array(searchWarning).optional().describe("present when the answer is degraded: the reranker failed, or the keyword index is incomplete"),
});
