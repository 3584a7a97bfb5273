import { permanent } from "../errors/app-error.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";

/** Plain UTF-8 text; a byte-order mark is dropped. */
export const textParser: DocumentParser = {
  mimeTypes: ["text/plain"],
  async parse(content: Buffer): Promise<ParsedDocument> {
    const text = new TextDecoder("utf-8", { fatal: false }).decode(content).replace(/^\uFEFF/, "");
    if (!text.trim()) throw permanent("NO_TEXT", "the document contains no text");
    return { sections: [{ text }], pageCount: null };
  },
};
