import { createRequire } from "node:module";
import path from "node:path";
import { PDFParse } from "pdf-parse";
import { AppError, permanent } from "../errors/app-error.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";

const require = createRequire(import.meta.url);
const pdfjsRoot = path.dirname(require.resolve("pdfjs-dist/package.json"));
// Predefined CMaps (Japanese, Chinese, Korean encodings) and the standard 14 fonts ship in
// pdfjs-dist; under Node pdf.js reads them by file path (with a trailing slash), not by URL.
const CMAP_URL = `${path.join(pdfjsRoot, "cmaps")}/`;
const STANDARD_FONTS_URL = `${path.join(pdfjsRoot, "standard_fonts")}/`;

/** Errors pdf.js throws, by name, mapped to document codes. */
function pdfError(err: unknown): AppError {
  const name = (err as { name?: string }).name ?? "";
  const message = err instanceof Error ? err.message : String(err);
  if (name === "PasswordException") return permanent("PDF_ENCRYPTED", "the PDF is password-protected; upload it without a password");
  if (name === "InvalidPDFException" || name === "FormatError") return permanent("DOCUMENT_CORRUPT", `the PDF cannot be read: ${message}`);
  if (err instanceof AppError) return err;
  return permanent("DOCUMENT_CORRUPT", `the PDF cannot be read: ${message}`);
}

/** PDF text per page (pdf-parse on pdf.js), so chunks can cite their page. */
export const pdfParser: DocumentParser = {
  async parse(content, limits): Promise<ParsedDocument> {
    const parser = new PDFParse({
      data: new Uint8Array(content.buffer, content.byteOffset, content.byteLength),
      cMapUrl: CMAP_URL,
      cMapPacked: true,
      standardFontDataUrl: STANDARD_FONTS_URL,
      isEvalSupported: false,
    });
    try {
      const info = await parser.getInfo();
      if (info.total > limits.maxPages) {
        throw permanent("DOCUMENT_TOO_LARGE", `the PDF has ${info.total} pages; the limit is ${limits.maxPages}`);
      }
      const result = await parser.getText({ pageJoiner: "" });
      const sections = result.pages.map((p) => ({ text: p.text.normalize("NFKC"), page: p.num })).filter((s) => s.text.trim());
      if (sections.length === 0) {
        throw permanent("NO_TEXT", "the PDF has no extractable text (scanned or image-only pages need OCR, which Quarry does not do)");
      }
      return { sections, pageCount: info.total, title: info.info?.Title?.trim() || undefined };
    } catch (err) {
      throw pdfError(err);
    } finally {
      // pdf-parse 2.4.5's destroy() expects pdf.js 5; the sandbox thread is discarded anyway.
      await parser.destroy().catch(() => undefined);
    }
  },
};
