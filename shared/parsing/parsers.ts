import { AppError } from "../errors/app-error.ts";
import type { DocumentParser } from "./document-parser.ts";

/** Parsers by MIME type, loaded on first use (a sandbox thread loads only the one it needs). */
const loaders: Record<string, () => Promise<DocumentParser>> = {
  "application/pdf": async () => (await import("./pdf.parser.ts")).pdfParser,
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": async () => (await import("./docx.parser.ts")).docxParser,
  "text/html": async () => (await import("./html.parser.ts")).htmlParser,
  "text/markdown": async () => (await import("./markdown.parser.ts")).markdownParser,
  "text/csv": async () => (await import("./csv.parser.ts")).csvParser,
  "text/plain": async () => (await import("./text.parser.ts")).textParser,
};

export const PARSEABLE_MIME_TYPES: readonly string[] = Object.keys(loaders);

/** The parser for a MIME type, or an UNSUPPORTED_MEDIA_TYPE error. */
export async function parserFor(mimeType: string): Promise<DocumentParser> {
  const load = loaders[mimeType];
  if (!load) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `documents of type ${mimeType} are not supported (supported: ${PARSEABLE_MIME_TYPES.join(", ")})`, {
      httpStatus: 415,
    });
  }
  return load();
}
