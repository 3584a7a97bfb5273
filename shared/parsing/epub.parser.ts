import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import { decodeText } from "./decode-text.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { htmlToSections } from "./html-sections.ts";
import { resolvePart } from "./ooxml.ts";
import { attr, findAll, findFirst, parseXml, textOf, type XmlElement } from "./xml.ts";
import { openZip, type ZipArchive } from "./zip-guard.ts";

const HTML_TYPES = new Set(["application/xhtml+xml", "text/html", "application/x-dtbook+xml"]);

/**
 * EPUB 2 and 3 books: the spine's documents in reading order, through the same HTML sectioning
 * as web pages, so every chapter and section heading starts a section headed by its path
 * (`Book > Chapter > Section`); a spine document without headings is headed by its title in the
 * table of contents (EPUB 3 nav, else NCX). The book's `dc:title` becomes the document title. A book whose chapters
 * are encrypted (DRM, META-INF/encryption.xml) is DOCUMENT_ENCRYPTED; obfuscated fonts are fine.
 */
export const epubParser: DocumentParser = {
  async parse(content, limits): Promise<ParsedDocument> {
    const zip = await openZip(content, limits.maxDecompressedBytes);
    try {
      return await parseBook(zip);
    } finally {
      zip.close();
    }
  },
};

async function parseBook(zip: ZipArchive): Promise<ParsedDocument> {
  if (!zip.has("META-INF/container.xml")) throw permanent("DOCUMENT_CORRUPT", "the EPUB has no META-INF/container.xml");
  const container = parseXml(await zip.text("META-INF/container.xml"), "META-INF/container.xml");
  const opfPath = attr(findFirst(container, "rootfile") ?? container, "full-path");
  if (!opfPath || !zip.has(opfPath)) throw permanent("DOCUMENT_CORRUPT", "the EPUB names no readable package document (OPF)");
  if (zip.has("META-INF/encryption.xml")) {
    const encrypted = findAll(parseXml(await zip.text("META-INF/encryption.xml"), "META-INF/encryption.xml"), "CipherReference").map((r) => attr(r, "URI") ?? "");
    if (encrypted.some((uri) => /\.(x?html?|xml)$/i.test(uri))) throw permanent("DOCUMENT_ENCRYPTED", "the EPUB's chapters are encrypted (DRM); upload a DRM-free copy");
  }
  const opf = parseXml(await zip.text(opfPath), opfPath);
  const manifest = new Map<string, { href: string; type: string; properties: string }>();
  for (const item of findAll(findFirst(opf, "manifest") ?? opf, "item")) {
    const id = attr(item, "id");
    const href = attr(item, "href");
    if (id && href) manifest.set(id, { href: resolvePart(opfPath, href), type: attr(item, "media-type") ?? "", properties: attr(item, "properties") ?? "" });
  }
  const spine = findFirst(opf, "spine");
  const titles = await tocTitles(zip, opf, manifest, spine);
  const bookTitle = textOf(findFirst(findFirst(opf, "metadata") ?? opf, "title") ?? { name: "", attrs: {}, children: [] }).trim();

  const bodies: string[] = [];
  // Each file once: a spine that lists one file a thousand times would turn a small book into a
  // thousand copies of it (zip limits count the archive, not how often a part is read).
  const read = new Set<string>();
  for (const ref of findAll(spine ?? opf, "itemref")) {
    const item = manifest.get(attr(ref, "idref") ?? "");
    if (!item || !HTML_TYPES.has(item.type) || !zip.has(item.href) || read.has(item.href)) continue;
    read.add(item.href);
    const bytes = await zip.read(item.href);
    const html = decodeText(bytes, /^<\?xml[^>]*encoding=["']([\w-]+)/.exec(bytes.subarray(0, 200).toString("latin1"))?.[1]).text;
    const body = /<body[^>]*>([\s\S]*)<\/body>/i.exec(html)?.[1] ?? html;
    const title = titles.get(item.href);
    bodies.push(title && !/<h[1-6][\s>]/i.test(body) ? `<h1>${escapeHtml(title)}</h1>${body}` : body);
  }
  // One pass over the whole book: publishers split files mid-chapter, so a file's first
  // paragraphs belong under the heading the previous file opened.
  const sections: Section[] = htmlToSections(`<!doctype html><html><body>${bodies.join("\n")}</body></html>`).filter((s) => s.text.trim());
  if (sections.length === 0) throw permanent("NO_TEXT", "the EPUB has no text in its chapters");
  return { sections, pageCount: null, ...(bookTitle ? { title: bookTitle } : {}) };
}

/** Chapter file → its first entry in the table of contents (EPUB 3 nav, else the NCX). */
async function tocTitles(zip: ZipArchive, opf: XmlElement, manifest: Map<string, { href: string; type: string; properties: string }>, spine?: XmlElement): Promise<Map<string, string>> {
  const titles = new Map<string, string>();
  const add = (tocPart: string, href: string | undefined, label: string) => {
    if (!href || !label) return;
    const file = resolvePart(tocPart, href);
    if (!titles.has(file)) titles.set(file, label.replace(/\s+/g, " ").trim());
  };
  const nav = [...manifest.values()].find((i) => i.properties.split(/\s+/).includes("nav"));
  if (nav && zip.has(nav.href)) {
    try {
      const doc = parseXml(await zip.text(nav.href), nav.href);
      const toc = findAll(doc, "nav").find((n) => attr(n, "type") === "toc") ?? findFirst(doc, "nav");
      for (const a of toc ? findAll(toc, "a") : []) add(nav.href, attr(a, "href"), textOf(a));
    } catch {
      // A nav document that is not well-formed XHTML: fall back to the NCX or the chapters' headings.
    }
  }
  const ncx = manifest.get(attr(spine ?? opf, "toc") ?? "") ?? [...manifest.values()].find((i) => i.type === "application/x-dtbncx+xml");
  if (titles.size === 0 && ncx && zip.has(ncx.href)) {
    const doc = parseXml(await zip.text(ncx.href), ncx.href);
    for (const point of findAll(doc, "navPoint").flatMap(function flatten(p): XmlElement[] {
      return [p, ...findAll(p, "navPoint").flatMap(flatten)];
    })) {
      const label = findFirst(findFirst(point, "navLabel") ?? point, "text");
      add(ncx.href, attr(findFirst(point, "content") ?? point, "src"), label ? textOf(label) : "");
    }
  }
  return titles;
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
