import { OPS, type PDFDocumentProxy } from "pdfjs-dist/legacy/build/pdf.mjs";

/** The pdf.js operators that paint an image (a scan, a photo, a stencil mask). */
const IMAGE_OPS = new Set<number>([
  OPS.paintImageXObject,
  OPS.paintImageXObjectRepeat,
  OPS.paintInlineImageXObject,
  OPS.paintInlineImageXObjectGroup,
  OPS.paintImageMaskXObject,
  OPS.paintImageMaskXObjectGroup,
  OPS.paintImageMaskXObjectRepeat,
  OPS.paintSolidColorImageMask,
]);

/**
 * The pages among `pages` that paint an image. A page with neither a text layer nor an image is
 * blank (a book's empty versos, a separator), and OCR would render it at 300 dpi to find nothing:
 * four bench PDFs spent most of their parse time that way. A page whose text is drawn as vector
 * outlines, with no image, is left out too.
 */
export async function pagesWithImages(doc: PDFDocumentProxy, pages: number[]): Promise<number[]> {
  const painted: number[] = [];
  for (const n of pages) {
    const page = await doc.getPage(n);
    try {
      const ops = await page.getOperatorList();
      if (ops.fnArray.some((fn) => IMAGE_OPS.has(fn))) painted.push(n);
    } finally {
      page.cleanup();
    }
  }
  return painted;
}
