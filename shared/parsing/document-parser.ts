import type { Section } from "./chunker.ts";

export interface ParsedDocument {
  sections: Section[];
  pageCount: number | null;
  /** A title found in the document itself (HTML <title>, …), used when the upload names none. */
  title?: string;
}

/**
 * Turns a document's bytes into text sections. Throws an AppError with a document code
 * (`DOCUMENT_CORRUPT`, `NO_TEXT`, …) on bad input. Runs inside the parse sandbox.
 */
export interface DocumentParser {
  parse(content: Buffer, limits: ParseLimits): Promise<ParsedDocument>;
}

export interface ParseLimits {
  /** Refuse documents with more pages than this (DOCUMENT_TOO_LARGE). */
  maxPages: number;
  /** Refuse archives (DOCX) that inflate to more than this many bytes (DOCUMENT_TOO_LARGE). */
  maxDecompressedBytes: number;
}
