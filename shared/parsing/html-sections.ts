import { parseHTML } from "linkedom";
import type { Section } from "./chunker.ts";

const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "SVG", "CANVAS", "IFRAME", "NAV", "FOOTER", "HEADER", "ASIDE", "FORM", "BUTTON", "SELECT"]);
const BLOCK = new Set(["P", "DIV", "SECTION", "ARTICLE", "MAIN", "BLOCKQUOTE", "PRE", "LI", "DT", "DD", "FIGCAPTION", "CAPTION", "ADDRESS", "TR", "BR", "HR", "UL", "OL", "DL", "TABLE", "FIGURE"]);
const HEADING = /^H([1-6])$/;

interface DomNode {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
  getAttribute?(name: string): string | null;
}

/**
 * Turns HTML into text sections: one section per heading, paragraphs separated by blank lines,
 * table rows as `cell | cell`, list items as `- item`. Markup, scripts and page chrome (nav,
 * header, footer, aside, forms) are dropped.
 */
export function htmlToSections(html: string): Section[] {
  const { document } = parseHTML(html.includes("<html") ? html : `<!doctype html><html><body>${html}</body></html>`);
  const body = (document.body ?? document.documentElement) as unknown as DomNode;
  return sectionsFromNode(body);
}

function sectionsFromNode(root: DomNode): Section[] {
  const sections: Section[] = [];
  const headings: string[] = [];
  let paragraphs: string[] = [];
  let line = "";
  let prefix = "";
  let cellDepth = 0;

  const flushLine = () => {
    const text = line.replace(/[ \t\u00a0]+/g, " ").trim();
    if (text) {
      paragraphs.push(prefix + text);
      prefix = "";
    }
    line = "";
  };
  const flushSection = () => {
    flushLine();
    if (paragraphs.length > 0) sections.push({ text: paragraphs.join("\n\n"), heading: headings.filter(Boolean).join(" > ") || null });
    paragraphs = [];
  };

  const walk = (node: DomNode) => {
    if (node.nodeType === 3) {
      line += node.textContent ?? "";
      return;
    }
    if (node.nodeType !== 1) return;
    const name = node.nodeName.toUpperCase();
    if (SKIP.has(name)) return;
    const href = node.getAttribute?.("href") ?? "";
    if (name === "A" && href.startsWith("#footnote-ref")) return; // mammoth's "↑" back-links
    const heading = HEADING.exec(name);
    if (heading) {
      flushSection();
      const level = Number(heading[1]);
      headings.length = level - 1;
      headings[level - 1] = (node.textContent ?? "").replace(/\s+/g, " ").trim();
      return;
    }
    const cell = name === "TD" || name === "TH";
    if (cell && line.trim()) line += " | ";
    // Inside a table cell, paragraphs run on so that a row stays one line: `a | b | c`.
    const block = BLOCK.has(name) && (cellDepth === 0 || name === "TR" || name === "TABLE");
    if (block) flushLine();
    if (name === "LI") prefix = "- ";
    if (cell) cellDepth++;
    const children = node.childNodes;
    for (let i = 0; i < children.length; i++) {
      const before = line;
      walk(children[i]!);
      // Separate the text of sibling blocks inside a cell.
      if (cellDepth > 0 && line !== before && BLOCK.has(children[i]!.nodeName.toUpperCase())) line += " ";
    }
    if (cell) cellDepth--;
    if (block) flushLine();
  };

  walk(root);
  flushSection();
  return sections;
}
