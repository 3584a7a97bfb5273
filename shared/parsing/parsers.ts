import { AppError } from "../errors/app-error.ts";
import type { DocumentParser } from "./document-parser.ts";
import { MIME } from "./mime-types.ts";

/** Parsers by MIME type — the one list of what Quarry parses — loaded on first use (a sandbox thread loads only the one it needs). */
const loaders: Record<string, () => Promise<DocumentParser>> = {
  [MIME.pdf]: async () => (await import("./pdf.parser.ts")).pdfParser,
  [MIME.docx]: async () => (await import("./docx.parser.ts")).docxParser,
  [MIME.xlsx]: async () => (await import("./xlsx.parser.ts")).xlsxParser,
  [MIME.ods]: async () => (await import("./ods.parser.ts")).odsParser,
  [MIME.pptx]: async () => (await import("./pptx.parser.ts")).pptxParser,
  [MIME.doc]: async () => (await import("./doc.parser.ts")).docParser,
  [MIME.encryptedOoxml]: async () => (await import("./encrypted-office.parser.ts")).encryptedOfficeParser,
  [MIME.rtf]: async () => (await import("./rtf.parser.ts")).rtfParser,
  [MIME.epub]: async () => (await import("./epub.parser.ts")).epubParser,
  [MIME.html]: async () => (await import("./html.parser.ts")).htmlParser,
  [MIME.markdown]: async () => (await import("./markdown.parser.ts")).markdownParser,
  [MIME.csv]: async () => (await import("./csv.parser.ts")).csvParser,
  [MIME.text]: async () => (await import("./text.parser.ts")).textParser,
  [MIME.png]: async () => (await import("./image.parser.ts")).imageParser(MIME.png),
  [MIME.jpeg]: async () => (await import("./image.parser.ts")).imageParser(MIME.jpeg),
  [MIME.tiff]: async () => (await import("./image.parser.ts")).imageParser(MIME.tiff),
};

/** Types read only by OCR: refused at upload when OCR_ENABLED=false. */
export const OCR_MIME_TYPES: readonly string[] = [MIME.png, MIME.jpeg, MIME.tiff];

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
