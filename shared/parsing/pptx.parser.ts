import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { readRelationships, type Relationship } from "./ooxml.ts";
import { attr, childElements, findAll, findFirst, firstChild, localName, parseXml, relAttr, textOf, type XmlElement } from "./xml.ts";
import { openZip, type ZipArchive } from "./zip-guard.ts";

const TITLE_TYPES = new Set(["title", "ctrTitle"]);
/** Placeholders whose text is chrome, not content. */
const SKIPPED_TYPES = new Set(["sldNum", "dt", "ftr", "hdr", "sldImg"]);

/**
 * PowerPoint decks (.pptx): one section per slide, in presentation order (`ppt/presentation.xml`
 * and its relationships, not file names), citing the slide number from 1. A slide's title comes
 * first, then the other shapes in the order the file lists them (bullets indented by level,
 * tables as `cell | cell` rows (empty cells left out), charts as their cached series values), then its speaker notes
 * after a `Notes:` label. Slides without text are left out; hidden slides are kept.
 */
export const pptxParser: DocumentParser = {
  async parse(content, limits): Promise<ParsedDocument> {
    const zip = await openZip(content, limits.maxDecompressedBytes);
    try {
      const rootRels = await readRelationships(zip, "");
      const presentationPart = [...rootRels.values()].find((r) => r.type === "officeDocument")?.target ?? "ppt/presentation.xml";
      if (!zip.has(presentationPart)) throw permanent("DOCUMENT_CORRUPT", "the file is a zip archive but not a PowerPoint presentation (no presentation part)");
      const presentation = parseXml(await zip.text(presentationPart), presentationPart);
      const rels = await readRelationships(zip, presentationPart);
      const slideParts = findAll(presentation, "sldId")
        .map((s) => rels.get(relAttr(s) ?? ""))
        .filter((r): r is Relationship => r !== undefined && r.type === "slide" && zip.has(r.target))
        .map((r) => r.target);
      if (slideParts.length > limits.maxPages) {
        throw permanent("DOCUMENT_TOO_LARGE", `the presentation has ${slideParts.length} slides; the limit is ${limits.maxPages}`);
      }
      const sections: Section[] = [];
      for (const [i, part] of slideParts.entries()) {
        const section = await readSlide(zip, part, i + 1);
        if (section) sections.push(section);
      }
      if (sections.length === 0) throw permanent("NO_TEXT", "the presentation has no text (only images or empty slides)");
      return { sections, pageCount: slideParts.length };
    } finally {
      zip.close();
    }
  },
};

async function readSlide(zip: ZipArchive, part: string, slide: number): Promise<Section | null> {
  const xml = parseXml(await zip.text(part), part);
  const rels = await readRelationships(zip, part);
  const titles: string[] = [];
  const body: string[] = [];
  const tree = findFirst(xml, "spTree");
  if (tree) await readShapes(zip, tree, rels, titles, body);
  const notesPart = [...rels.values()].find((r) => r.type === "notesSlide" && zip.has(r.target))?.target;
  const notes: string[] = [];
  if (notesPart) {
    const notesTree = findFirst(parseXml(await zip.text(notesPart), notesPart), "spTree");
    if (notesTree) {
      for (const sp of findAll(notesTree, "sp")) {
        const type = placeholderType(sp);
        if (type === "body") notes.push(...paragraphs(sp, false));
      }
    }
  }
  const title = titles.join(" ").trim();
  const blocks = [title, body.join("\n")].filter(Boolean);
  if (notes.length > 0) blocks.push(`Notes: ${notes.join("\n")}`);
  if (blocks.length === 0) return null;
  return { text: blocks.join("\n\n"), heading: title || null, slide };
}

function placeholderType(sp: XmlElement): string | undefined {
  const ph = findFirst(firstChild(sp, "nvSpPr") ?? sp, "ph");
  if (!ph) return undefined;
  return attr(ph, "type") ?? "body";
}

async function readShapes(zip: ZipArchive, tree: XmlElement, rels: Map<string, Relationship>, titles: string[], body: string[]): Promise<void> {
  for (const shape of childElements(tree)) {
    switch (localName(shape.name)) {
      case "sp": {
        const type = placeholderType(shape);
        if (type && SKIPPED_TYPES.has(type)) break;
        const lines = paragraphs(shape, type === "body");
        if (type && TITLE_TYPES.has(type)) titles.push(lines.join(" "));
        else body.push(...lines);
        break;
      }
      case "grpSp":
        await readShapes(zip, shape, rels, titles, body);
        break;
      case "AlternateContent": {
        const choice = firstChild(shape, "Choice") ?? firstChild(shape, "Fallback");
        if (choice) await readShapes(zip, choice, rels, titles, body);
        break;
      }
      case "graphicFrame": {
        const table = findFirst(shape, "tbl");
        if (table) body.push(...tableRows(table));
        const chart = findFirst(shape, "chart");
        const chartPart = chart ? rels.get(relAttr(chart) ?? "")?.target : undefined;
        if (chartPart && zip.has(chartPart)) body.push(...chartText(parseXml(await zip.text(chartPart), chartPart)));
        break;
      }
    }
  }
}

/** A shape's paragraphs; in a body placeholder, as bullets indented by their level. */
function paragraphs(shape: XmlElement, bullets: boolean): string[] {
  const txBody = firstChild(shape, "txBody");
  if (!txBody) return [];
  const lines: string[] = [];
  for (const p of childElements(txBody, "p")) {
    const text = runText(p).replace(/[ \t\u00a0]+/g, " ").trim();
    if (!text) continue;
    const level = Number(attr(firstChild(p, "pPr") ?? p, "lvl") ?? 0);
    lines.push(bullets ? `${"  ".repeat(level)}- ${text}` : text);
  }
  return lines;
}

function runText(p: XmlElement): string {
  let text = "";
  for (const child of childElements(p)) {
    const name = localName(child.name);
    if (name === "r" || name === "fld") text += textOf(firstChild(child, "t") ?? { name: "", attrs: {}, children: [] });
    else if (name === "br") text += " ";
  }
  return text;
}

function tableRows(table: XmlElement): string[] {
  return childElements(table, "tr")
    .map((tr) =>
      childElements(tr, "tc")
        .filter((tc) => attr(tc, "hMerge") !== "1" && attr(tc, "vMerge") !== "1")
        .map((tc) => findAll(tc, "p").map(runText).join(" ").replace(/\s+/g, " ").trim())
        .filter(Boolean)
        .join(" | "),
    )
    .filter(Boolean);
}

/** A chart's title and each series' cached points, `Series 1: Category 1 = 4.3; …`. */
function chartText(chart: XmlElement): string[] {
  const lines: string[] = [];
  const titleEl = findFirst(chart, "title");
  const title = titleEl ? findAll(titleEl, "t").map(textOf).join("").trim() : "";
  lines.push(title ? `Chart: ${title}` : "Chart:");
  for (const ser of findAll(chart, "ser")) {
    const name = findAll(firstChild(ser, "tx") ?? ser, "v").map(textOf).join(" ").trim();
    const points = (el: XmlElement | undefined) => {
      const out: string[] = [];
      for (const pt of el ? findAll(el, "pt") : []) {
        const v = textOf(firstChild(pt, "v") ?? pt).trim();
        out[Number(attr(pt, "idx") ?? out.length)] = /^-?\d+\.\d{15,}$/.test(v) ? String(Number(Number(v).toPrecision(15))) : v;
      }
      return out;
    };
    const categories = points(firstChild(ser, "cat"));
    const values = points(firstChild(ser, "val") ?? firstChild(ser, "yVal"));
    const pairs = values.map((v, i) => (categories[i] ? `${categories[i]} = ${v}` : v)).filter(Boolean);
    if (name || pairs.length > 0) lines.push(`${name || "Series"}: ${pairs.join("; ")}`);
  }
  return lines.length > 1 || title ? lines : [];
}
