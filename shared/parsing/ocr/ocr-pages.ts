import type { Section } from "../chunker.ts";
import type { DocumentWarning, OcrLimits, OcrReport } from "../document-parser.ts";
import { OCR_LOW_CONFIDENCE } from "./ocr-constants.ts";
import { ocrPageStarting } from "./ocr-deadline.ts";
import { OcrEngine } from "./ocr-engine.ts";

export interface OcrOutcome {
  sections: Section[];
  report: OcrReport;
  warnings: DocumentWarning[];
  /** Mean confidence over the pages read (0 when none), for a NO_TEXT message. */
  confidence: number;
}

/**
 * OCRs `pages` (1-based page numbers) of one document with one engine, at most `limits.maxPages`
 * of them; the rest are skipped with an OCR_PAGES_SKIPPED warning. `image(page)` renders or returns
 * the page's image. A page read with low confidence is read again turned by 180° (orientation
 * detection handles 90° and 270° but leaves upside-down pages), keeping the better reading.
 */
export async function ocrPages(pages: number[], image: (page: number) => Promise<Uint8Array>, limits: OcrLimits): Promise<OcrOutcome> {
  const toRead = pages.slice(0, limits.maxPages);
  const skipped = pages.slice(limits.maxPages);
  const warnings: DocumentWarning[] = [];
  if (skipped.length > 0) {
    warnings.push({
      code: "OCR_PAGES_SKIPPED",
      message: `${skipped.length} page(s) without text were not read by OCR (${pageList(skipped)}): OCR reads at most ${limits.maxPages} pages per document (OCR_MAX_PAGES)`,
    });
  }
  const sections: Section[] = [];
  const report: OcrReport = { pages: [], languages: [...limits.languages] };
  // Starting the engine (~1 s) counts towards the first page's budget.
  if (toRead[0] !== undefined) ocrPageStarting(toRead[0]);
  const engine = await OcrEngine.start(limits.languages);
  try {
    for (const [i, page] of toRead.entries()) {
      if (i > 0) ocrPageStarting(page);
      const bytes = await image(page);
      let read = await engine.recognize(bytes);
      if (read.confidence < OCR_LOW_CONFIDENCE) {
        const turned = await engine.recognize(bytes, { upsideDown: true });
        if (turned.confidence > read.confidence) read = turned;
      }
      report.pages.push({ page, confidence: read.confidence });
      if (read.text) sections.push({ text: read.text, page, ocrConfidence: read.confidence });
    }
  } finally {
    await engine.close();
  }
  const low = report.pages.filter((p) => p.confidence < OCR_LOW_CONFIDENCE && sections.some((s) => s.page === p.page));
  if (low.length > 0) {
    warnings.push({
      code: "OCR_LOW_CONFIDENCE",
      message: `OCR read ${low.length} page(s) with a mean word confidence below ${OCR_LOW_CONFIDENCE} of 100 (${low.map((p) => `page ${p.page}: ${p.confidence}`).join(", ")}); expect misread words there`,
    });
  }
  const confidence = report.pages.length ? Math.round(report.pages.reduce((sum, p) => sum + p.confidence, 0) / report.pages.length) : 0;
  return { sections, report, warnings, confidence };
}

/** "3, 5, 7–40" */
function pageList(pages: number[]): string {
  const ranges: string[] = [];
  for (let i = 0; i < pages.length; i++) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j]! + 1) j++;
    ranges.push(j > i ? `${pages[i]}–${pages[j]}` : `${pages[i]}`);
    i = j;
  }
  return ranges.length > 12 ? `${ranges.slice(0, 12).join(", ")}, …` : ranges.join(", ");
}
