import { fileTypeFromBuffer } from "file-type";
import { AppError } from "../errors/app-error.ts";
import { isCfb, isEncryptedPackage, readCfbDirectory } from "./cfb.ts";
import { decodeText, looksLikeText } from "./decode-text.ts";
import { MIME } from "./mime-types.ts";
import { PARSEABLE_MIME_TYPES } from "./parsers.ts";

export { MIME };

/** The types with a parser: the one list lives in the parser registry. */
export const SUPPORTED_MIME_TYPES = PARSEABLE_MIME_TYPES;

/**
 * The document's type, from its bytes: magic numbers for binary formats (file-type), then, for
 * text, its shape (HTML markup, CSV rows, Markdown structure). The file name is only a tie-breaker
 * between text formats whose bytes cannot tell them apart (a `.md` of plain paragraphs).
 * OLE/CFB containers all start with the same bytes, so they are told apart by their directory.
 * Returns the detected type even when Quarry cannot parse it, so the caller can name it in a 415.
 */
export async function detectType(bytes: Uint8Array, fileName?: string): Promise<string> {
  if (isCfb(bytes)) return cfbType(bytes);
  const magic = await fileTypeFromBuffer(bytes);
  if (magic) return magic.mime;
  if (!looksLikeText(bytes)) return "application/octet-stream";
  const head = decodeText(bytes.subarray(0, 16_384)).text;
  const ext = fileName?.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  if (/^\s*(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])/i.test(head) || (ext?.startsWith("htm") && /<[a-z][^>]*>/i.test(head))) {
    return MIME.html;
  }
  if (looksLikeCsv(head) || (ext === "csv" && head.includes(","))) return MIME.csv;
  if (ext === "md" || ext === "markdown" || looksLikeMarkdown(head)) return MIME.markdown;
  return MIME.text;
}

/**
 * What an OLE/CFB container holds, from its stream names: a `WordDocument` stream is a .doc (an
 * encrypted one too: its parser says DOCUMENT_ENCRYPTED); `EncryptionInfo` + `EncryptedPackage` is
 * a password-protected .docx/.xlsx/.pptx (accepted, then DOCUMENT_ENCRYPTED); Excel and PowerPoint
 * 97–2003 get their own types (refused, 415). A container whose directory cannot be read is taken
 * for a .doc, the common case, and ends DOCUMENT_CORRUPT in its parser.
 */
function cfbType(bytes: Uint8Array): string {
  const dir = readCfbDirectory(bytes);
  if (!dir) return MIME.doc;
  if (isEncryptedPackage(dir)) return MIME.encryptedOoxml;
  if (dir.names.has("WordDocument")) return MIME.doc;
  if (dir.names.has("Workbook") || dir.names.has("Book")) return "application/vnd.ms-excel";
  if (dir.names.has("PowerPoint Document")) return "application/vnd.ms-powerpoint";
  return "application/x-cfb";
}

function looksLikeCsv(head: string): boolean {
  const lines = head.split(/\r?\n/).filter((l) => l.trim()).slice(0, 20);
  if (lines.length < 2) return false;
  for (const delimiter of [",", ";", "\t"]) {
    const counts = lines.map((l) => l.split(delimiter).length - 1);
    const first = counts[0]!;
    const consistent = counts.filter((c) => c === first).length;
    if (first >= 1 && consistent / counts.length >= 0.8) return true;
  }
  return false;
}

function looksLikeMarkdown(head: string): boolean {
  const headings = head.match(/^#{1,6} \S/gm)?.length ?? 0;
  const fences = head.match(/^```/gm)?.length ?? 0;
  const links = head.match(/\[[^\]]+\]\([^)]+\)/g)?.length ?? 0;
  return headings >= 2 || (headings >= 1 && fences + links >= 1) || fences >= 2;
}

/** What users are told they can upload, by MIME type; internal types (an encrypted package) have no name here. */
const FORMAT_NAMES: Record<string, string> = {
  [MIME.pdf]: "PDF",
  [MIME.docx]: "Word (DOCX)",
  [MIME.doc]: "Word 97–2003 (DOC)",
  [MIME.xlsx]: "Excel (XLSX)",
  [MIME.ods]: "OpenDocument spreadsheets (ODS)",
  [MIME.pptx]: "PowerPoint (PPTX)",
  [MIME.rtf]: "RTF",
  [MIME.epub]: "EPUB",
  [MIME.png]: "PNG",
  [MIME.jpeg]: "JPEG",
  [MIME.tiff]: "TIFF",
  [MIME.html]: "HTML",
  [MIME.markdown]: "Markdown",
  [MIME.csv]: "CSV",
  [MIME.text]: "plain text",
};

/** The formats Quarry parses, as users know them: `PDF, Word (DOCX), …` (from the parser registry). */
export const SUPPORTED_FORMATS = SUPPORTED_MIME_TYPES.flatMap((m) => FORMAT_NAMES[m] ?? []).join(", ");

/** Throws UNSUPPORTED_MEDIA_TYPE (415) for a type Quarry has no parser for. */
export function assertSupportedType(mimeType: string): void {
  if (!SUPPORTED_MIME_TYPES.includes(mimeType)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `files of type ${mimeType} are not supported (supported: ${SUPPORTED_FORMATS})`, {
      httpStatus: 415,
      details: { detected_type: mimeType },
    });
  }
}
