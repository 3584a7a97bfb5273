import mammoth from "mammoth";
import { AppError, permanent } from "../errors/app-error.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { htmlToSections } from "./html-sections.ts";
import { assertZipWithinLimits } from "./zip-guard.ts";

/**
 * Word documents through mammoth's HTML conversion — not `extractRawText`, which drops footnotes —
 * then split by headings. Tracked deletions are left out, insertions kept; comments are dropped.
 */
export const docxParser: DocumentParser = {
  async parse(content, limits): Promise<ParsedDocument> {
    await assertZipWithinLimits(content, limits.maxDecompressedBytes);
    let html: string;
    try {
      html = (await mammoth.convertToHtml({ buffer: content })).value;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw permanent("DOCUMENT_CORRUPT", `the DOCX cannot be read: ${(err as Error).message}`);
    }
    const sections = htmlToSections(html).filter((s) => s.text.trim());
    if (sections.length === 0) throw permanent("NO_TEXT", "the document has no text (only images or empty pages)");
    return { sections, pageCount: null };
  },
};
