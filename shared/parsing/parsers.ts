import { AppError } from "../errors/app-error.ts";
import type { DocumentParser } from "./document-parser.ts";
import { textParser } from "./text.parser.ts";

const parsers: DocumentParser[] = [textParser];

/** The parser for a MIME type, or an UNSUPPORTED_MEDIA_TYPE error. */
export function parserFor(mimeType: string): DocumentParser {
  const parser = parsers.find((p) => p.mimeTypes.includes(mimeType));
  if (!parser) throw new AppError("UNSUPPORTED_MEDIA_TYPE", `documents of type ${mimeType} are not supported`, { httpStatus: 415 });
  return parser;
}
