import type { Section } from "./chunker.ts";

/** Something the parser left out or could not read well, which the user should hear of. */
export interface DocumentWarning {
  /** `HIDDEN_SHEETS_SKIPPED`, `OCR_PAGES_SKIPPED`, `OCR_LOW_CONFIDENCE`, … */
  code: string;
  message: string;
}

/** What OCR did to a document: which pages it read, and how sure it was of each. */
export interface OcrReport {
  /** Pages read by OCR (1-based; an uploaded image is page 1), with their mean word confidence 0–100. */
  pages: Array<{ page: number; confidence: number }>;
  languages: string[];
}

export interface ParsedDocument {
  sections: Section[];
  pageCount: number | null;
  /** A title found in the document itself (HTML <title>, …), used when the upload names none. */
  title?: string;
  warnings?: DocumentWarning[];
  ocr?: OcrReport;
}

/**
 * Turns a document's bytes into text sections. Throws an AppError with a document code
 * (`DOCUMENT_CORRUPT`, `NO_TEXT`, …) on bad input. Runs inside the parse sandbox.
 */
export interface DocumentParser {
  parse(content: Buffer, limits: ParseLimits): Promise<ParsedDocument>;
}

export interface OcrLimits {
  /** OCR_ENABLED: false restores the behaviour before OCR (image-only pages end NO_TEXT, images are refused). */
  enabled: boolean;
  /** OCR_LANGUAGES: tesseract language codes, each with its traineddata package installed. */
  languages: string[];
  /** OCR_MAX_PAGES: pages OCRed per document at most; the rest are skipped and said so. */
  maxPages: number;
}

export interface ParseLimits {
  /** Refuse documents with more pages than this (DOCUMENT_TOO_LARGE). */
  maxPages: number;
  /** Refuse archives (DOCX, XLSX, PPTX, EPUB …) that inflate to more than this many bytes (DOCUMENT_TOO_LARGE). */
  maxDecompressedBytes: number;
  ocr: OcrLimits;
}
