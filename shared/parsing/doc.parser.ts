import WordExtractor from "word-extractor";
import { permanent } from "../errors/app-error.ts";
import { isEncryptedPackage, isEncryptedWordDocument, readCfbDirectory } from "./cfb.ts";
import type { Section } from "./chunker.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";

// eslint-disable-next-line no-control-regex -- Word's field and cell marks that word-extractor leaves in.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

/**
 * Word 97–2003 documents (.doc, OLE/CFB) through word-extractor: the body, then text boxes,
 * footnotes and endnotes; headers, footers and comments are left out (as for DOCX). Table rows
 * stay one line each with cells separated by tabs. An encrypted document (FIB fEncrypted) is
 * DOCUMENT_ENCRYPTED; a container that cannot be read is DOCUMENT_CORRUPT.
 */
export const docParser: DocumentParser = {
  async parse(content): Promise<ParsedDocument> {
    const dir = readCfbDirectory(content);
    if (dir && (isEncryptedWordDocument(dir) || isEncryptedPackage(dir))) {
      throw permanent("DOCUMENT_ENCRYPTED", "the Word document is password-protected; remove the password and upload it again");
    }
    let parts: string[];
    try {
      const doc = await new WordExtractor().extract(content);
      parts = [doc.getBody(), doc.getTextboxes({ includeHeadersAndFooters: false, includeBody: true }), doc.getFootnotes(), doc.getEndnotes()];
    } catch (err) {
      throw permanent("DOCUMENT_CORRUPT", `the Word document cannot be read: ${(err as Error).message}`);
    }
    const sections: Section[] = parts.map((text) => ({ text: paragraphs(text), heading: null })).filter((s) => s.text);
    if (sections.length === 0) throw permanent("NO_TEXT", "the document has no text (only images or empty pages)");
    return { sections, pageCount: null };
  },
};

/** Paragraphs separated by blank lines; consecutive table rows (lines with tabs) kept together. */
function paragraphs(text: string): string {
  const blocks: string[] = [];
  let table: string[] = [];
  const flush = () => {
    if (table.length > 0) blocks.push(table.join("\n"));
    table = [];
  };
  for (const raw of text.replace(/\r\n?/g, "\n").replace(CONTROL, "").split("\n")) {
    const line = raw.replace(/\t+$/, "").trimEnd();
    if (raw.includes("\t") && line.trim()) table.push(line);
    else {
      flush();
      if (line.trim()) blocks.push(line.trim());
    }
  }
  flush();
  return blocks.join("\n\n");
}
