import { permanent } from "../errors/app-error.ts";
import { decodeText } from "./decode-text.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";

/** Plain text in any common encoding (UTF-8 first; a BOM is dropped). */
export const textParser: DocumentParser = {
  async parse(content): Promise<ParsedDocument> {
    const { text } = decodeText(content);
    if (!text.trim()) throw permanent("NO_TEXT", "the document contains no text");
    return { sections: [{ text: text.replace(/\r\n?/g, "\n") }], pageCount: null };
  },
};
