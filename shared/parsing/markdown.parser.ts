import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import { decodeText } from "./decode-text.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";

/**
 * Markdown split at ATX headings (`#` … `######`, outside code fences); each section carries its
 * heading path ("Install > From npm"). The text itself stays Markdown: it reads fine to people,
 * embedders and chat models alike.
 */
export const markdownParser: DocumentParser = {
  async parse(content): Promise<ParsedDocument> {
    const { text } = decodeText(content);
    const sections: Section[] = [];
    const path: string[] = [];
    let lines: string[] = [];
    let inFence = false;
    const flush = () => {
      const body = lines.join("\n").trim();
      if (body) sections.push({ text: body, heading: path.filter(Boolean).join(" > ") || null });
      lines = [];
    };
    for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
      if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
      const heading = inFence ? null : /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
      if (heading) {
        flush();
        const level = heading[1]!.length;
        path.length = level - 1;
        path[level - 1] = heading[2]!;
        lines.push(line);
        continue;
      }
      lines.push(line);
    }
    flush();
    if (sections.length === 0) throw permanent("NO_TEXT", "the document contains no text");
    return { sections, pageCount: null };
  },
};
