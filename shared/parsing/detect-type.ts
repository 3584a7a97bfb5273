import { fileTypeFromBuffer } from "file-type";
import { AppError } from "../errors/app-error.ts";
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
 * Returns the detected type even when Quarry cannot parse it, so the caller can name it in a 415.
 */
export async function detectType(bytes: Uint8Array, fileName?: string): Promise<string> {
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

/** Throws UNSUPPORTED_MEDIA_TYPE (415) for a type Quarry has no parser for. */
export function assertSupportedType(mimeType: string): void {
  if (!SUPPORTED_MIME_TYPES.includes(mimeType)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `files of type ${mimeType} are not supported (supported: PDF, DOCX, HTML, Markdown, CSV, plain text)`, {
      httpStatus: 415,
      details: { detected_type: mimeType },
    });
  }
}
