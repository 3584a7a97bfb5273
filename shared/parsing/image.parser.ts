import { AppError, permanent } from "../errors/app-error.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { prepareImage } from "./ocr/image-input.ts";
import { ocrPages } from "./ocr/ocr-pages.ts";

/** An uploaded PNG, JPEG or TIFF, read by OCR as page 1 (a multi-page TIFF: its first page, and says so). */
export function imageParser(mimeType: string): DocumentParser {
  return {
    async parse(content, limits): Promise<ParsedDocument> {
      if (!limits.ocr.enabled) {
        throw new AppError("UNSUPPORTED_MEDIA_TYPE", `images (${mimeType}) are read by OCR, which is turned off (OCR_ENABLED=false)`, { httpStatus: 415 });
      }
      const image = await prepareImage(content, mimeType);
      const ocr = await ocrPages([1], () => Promise.resolve(image.bytes), limits.ocr);
      const warnings = [...ocr.warnings];
      if (image.pages > 1) {
        warnings.push({ code: "OCR_PAGES_SKIPPED", message: `the TIFF has ${image.pages} pages; OCR read only the first` });
      }
      if (ocr.sections.length === 0) {
        throw permanent("NO_TEXT", `OCR found no text in the image (mean confidence ${ocr.confidence} of 100)`);
      }
      return { sections: ocr.sections, pageCount: image.pages, ocr: ocr.report, ...(warnings.length ? { warnings } : {}) };
    },
  };
}
