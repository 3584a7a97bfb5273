import { createRequire } from "node:module";
import path from "node:path";
import { PDFParse } from "pdf-parse";
import type { PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import { AppError, permanent } from "../errors/app-error.ts";
import type { DocumentParser, OcrLimits, ParsedDocument } from "./document-parser.ts";
import { OCR_DPI, OCR_MAX_PIXELS } from "./ocr/ocr-constants.ts";
import { ocrPages, type OcrOutcome } from "./ocr/ocr-pages.ts";
import { pagesWithImages } from "./ocr/pages-with-images.ts";

const require = createRequire(import.meta.url);
const pdfjsRoot = path.dirname(require.resolve("pdfjs-dist/package.json"));
// Predefined CMaps (Japanese, Chinese, Korean encodings) and the standard 14 fonts ship in
// pdfjs-dist; under Node pdf.js reads them by file path (with a trailing slash), not by URL.
const CMAP_URL = `${path.join(pdfjsRoot, "cmaps")}/`;
const STANDARD_FONTS_URL = `${path.join(pdfjsRoot, "standard_fonts")}/`;
// pdf.js 5+ decodes JBIG2 and JPEG 2000 images (the usual scans) with WebAssembly from here; without
// it a scanned page renders blank.
const WASM_URL = `${path.join(pdfjsRoot, "wasm")}/`;

/** Errors pdf.js throws, by name, mapped to document codes. */
function pdfError(err: unknown): AppError {
  const name = (err as { name?: string }).name ?? "";
  const message = err instanceof Error ? err.message : String(err);
  if (name === "PasswordException") return permanent("PDF_ENCRYPTED", "the PDF is password-protected; upload it without a password");
  if (name === "InvalidPDFException" || name === "FormatError") return permanent("DOCUMENT_CORRUPT", `the PDF cannot be read: ${message}`);
  if (err instanceof AppError) return err;
  return permanent("DOCUMENT_CORRUPT", `the PDF cannot be read: ${message}`);
}

/** Renders each page at ~300 dpi (fewer pixels for huge pages) and OCRs it. */
async function ocrPdfPages(parser: PDFParse, pages: number[], limits: OcrLimits): Promise<OcrOutcome> {
  const sizes = new Map<number, { width: number; height: number }>();
  const info = await parser.getInfo({ parsePageInfo: true, partial: pages.slice(0, limits.maxPages) });
  for (const p of info.pages) sizes.set(p.pageNumber, { width: p.width, height: p.height });
  return ocrPages(
    pages,
    async (page) => {
      const size = sizes.get(page) ?? { width: 612, height: 792 };
      const dpiScale = OCR_DPI / 72;
      const scale = Math.min(dpiScale, Math.sqrt(OCR_MAX_PIXELS / Math.max(1, size.width * size.height)));
      const shot = await parser.getScreenshot({ partial: [page], scale, imageDataUrl: false, imageBuffer: true });
      const rendered = shot.pages[0];
      if (!rendered) throw permanent("DOCUMENT_CORRUPT", `page ${page} of the PDF could not be rendered for OCR`);
      return rendered.data;
    },
    limits,
  );
}

/**
 * Frees the document. pdf-parse 2.4.5's destroy() calls `doc.destroy()`, which pdf.js 6 no longer
 * has: it throws, and a warm parse thread kept every document it had parsed (~14 MB of heap per
 * 352-page book). The loading task owns the document in pdf.js 5 and 6 alike.
 */
async function release(parser: PDFParse): Promise<void> {
  const holder = parser as unknown as { doc?: PDFDocumentProxy };
  const doc = holder.doc;
  holder.doc = undefined;
  await doc?.loadingTask.destroy();
}

/** PDF text per page (pdf-parse on pdf.js), so chunks can cite their page. */
export const pdfParser: DocumentParser = {
  async parse(content, limits): Promise<ParsedDocument> {
    const parser = new PDFParse({
      data: new Uint8Array(content.buffer, content.byteOffset, content.byteLength),
      cMapUrl: CMAP_URL,
      cMapPacked: true,
      standardFontDataUrl: STANDARD_FONTS_URL,
      wasmUrl: WASM_URL,
      isEvalSupported: false,
    });
    try {
      const info = await parser.getInfo();
      if (info.total > limits.maxPages) {
        throw permanent("DOCUMENT_TOO_LARGE", `the PDF has ${info.total} pages; the limit is ${limits.maxPages}`);
      }
      const result = await parser.getText({ pageJoiner: "" });
      const pages = result.pages.map((p) => ({ text: p.text.normalize("NFKC"), page: p.num }));
      const textless = pages.filter((p) => !p.text.trim()).map((p) => p.page);
      // Blank pages (no text, no image) are not worth rendering for OCR.
      const scanned = limits.ocr.enabled && textless.length > 0 ? await pagesWithImages((parser as unknown as { doc: PDFDocumentProxy }).doc, textless) : [];
      const ocr = scanned.length > 0 ? await ocrPdfPages(parser, scanned, limits.ocr) : undefined;
      // Pages in page order, whether their text came from the text layer or from OCR.
      const sections = [...pages.filter((p) => p.text.trim()), ...(ocr?.sections ?? [])].sort((a, b) => (a.page ?? 0) - (b.page ?? 0));
      if (sections.length === 0) {
        throw permanent(
          "NO_TEXT",
          ocr
            ? `the PDF has no text layer and OCR found no text on its ${ocr.report.pages.length} page(s) (mean confidence ${ocr.confidence} of 100)`
            : limits.ocr.enabled
              ? "the PDF has no text: its pages have neither a text layer nor images to read by OCR"
              : "the PDF has no extractable text (scanned or image-only pages need OCR, which is turned off: OCR_ENABLED=false)",
        );
      }
      return {
        sections,
        pageCount: info.total,
        title: info.info?.Title?.trim() || undefined,
        ...(ocr ? { ocr: ocr.report } : {}),
        ...(ocr?.warnings.length ? { warnings: ocr.warnings } : {}),
      };
    } catch (err) {
      throw pdfError(err);
    } finally {
      await release(parser);
    }
  },
};
