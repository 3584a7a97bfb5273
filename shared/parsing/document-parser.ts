import type { Section } from "./chunker.ts";

export interface ParsedDocument {
  sections: Section[];
  pageCount: number | null;
}

/** Turns a document's bytes into text sections. Throws an AppError with a document code on bad input. */
export interface DocumentParser {
  readonly mimeTypes: readonly string[];
  parse(content: Buffer): Promise<ParsedDocument>;
}
