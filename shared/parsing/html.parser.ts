import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import { decodeText } from "./decode-text.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { htmlToSections } from "./html-sections.ts";

function declaredCharset(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 4096));
  return /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(head)?.[1];
}

/**
 * HTML pages: decoded by their bytes (a lying `<meta charset>` loses to valid UTF-8), reduced to
 * the main content with Readability (navigation and boilerplate dropped), then split by headings.
 * Pages Readability cannot make sense of fall back to the whole body minus page chrome.
 */
export const htmlParser: DocumentParser = {
  async parse(content: Buffer): Promise<ParsedDocument> {
    const { text: html } = decodeText(content, declaredCharset(content));
    const { document } = parseHTML(html);
    const title = document.querySelector("title")?.textContent?.trim();
    let sections: Section[] = [];
    try {
      const article = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0], { charThreshold: 200 }).parse();
      if (article?.content) sections = htmlToSections(article.content);
    } catch {
      // Readability gave up: fall back below.
    }
    if (sections.reduce((n, s) => n + s.text.length, 0) < 200) sections = htmlToSections(html);
    if (!sections.some((s) => s.text.trim())) throw permanent("NO_TEXT", "the page contains no text");
    return { sections, pageCount: null, title: title || undefined };
  },
};
