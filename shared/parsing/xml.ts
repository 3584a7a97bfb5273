import type { Readable } from "node:stream";
import { SaxesParser, type SaxesTagPlain } from "saxes";
import { permanent } from "../errors/app-error.ts";

/** An XML element with qualified names as written (`p:sp`, `a:t`); children in document order. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

/** The name without its namespace prefix: `p:sp` → `sp`. */
export const localName = (name: string) => name.slice(name.indexOf(":") + 1);

/** An attribute by local name, whatever its prefix (`r:id`, `r:embed` …). */
export function attr(el: XmlElement, name: string): string | undefined {
  if (name in el.attrs) return el.attrs[name];
  for (const [key, value] of Object.entries(el.attrs)) if (localName(key) === name) return value;
  return undefined;
}

/** A relationship id (`r:id`, `r:embed` …): the namespaced attribute, never a plain `id` beside it. */
export function relAttr(el: XmlElement, name = "id"): string | undefined {
  for (const [key, value] of Object.entries(el.attrs)) if (key.includes(":") && localName(key) === name) return value;
  return undefined;
}

export const childElements = (el: XmlElement, name?: string): XmlElement[] =>
  el.children.filter((c): c is XmlElement => typeof c !== "string" && (name === undefined || localName(c.name) === name));

export const firstChild = (el: XmlElement, name: string): XmlElement | undefined => childElements(el, name)[0];

/** Every element below `el` with this local name, in document order (not below a match). */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const walk = (node: XmlElement) => {
    for (const child of childElements(node)) {
      if (localName(child.name) === name) found.push(child);
      else walk(child);
    }
  };
  walk(el);
  return found;
}

export const findFirst = (el: XmlElement, name: string): XmlElement | undefined => findAll(el, name)[0];

/** All text below `el`. */
export function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === "string" ? c : textOf(c))).join("");
}

function corrupt(what: string, err: unknown): never {
  throw permanent("DOCUMENT_CORRUPT", `${what} is not well-formed XML: ${(err as Error).message}`);
}

/**
 * Parses a small XML part (a slide, a relationships file, a manifest) into a tree. Whitespace-only
 * text is dropped. No DTD or external entity is ever loaded (saxes does not resolve them).
 */
export function parseXml(xml: string, what = "a part of the document"): XmlElement {
  const root: XmlElement = { name: "#document", attrs: {}, children: [] };
  const stack: XmlElement[] = [root];
  const parser = new SaxesParser({ xmlns: false, position: false });
  parser.on("opentag", (tag) => {
    const el: XmlElement = { name: tag.name, attrs: (tag as SaxesTagPlain).attributes, children: [] };
    stack.at(-1)!.children.push(el);
    stack.push(el);
  });
  parser.on("closetag", () => void stack.pop());
  const onText = (text: string) => {
    if (text.trim() || stack.at(-1)!.name.endsWith(":t") || stack.at(-1)!.name === "t") stack.at(-1)!.children.push(text);
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  try {
    parser.write(xml.replace(/^\uFEFF/, "")).close();
  } catch (err) {
    corrupt(what, err);
  }
  const [top] = childElements(root);
  if (!top) throw permanent("DOCUMENT_CORRUPT", `${what} is empty`);
  return top;
}

export interface XmlStreamHandlers {
  open(name: string, attrs: Record<string, string>): void;
  close(name: string): void;
  text(text: string): void;
}

/** Streams a large XML part (a worksheet) through handlers without building a tree. */
export async function streamXml(stream: Readable, handlers: XmlStreamHandlers, what = "a part of the document"): Promise<void> {
  const parser = new SaxesParser({ xmlns: false, position: false });
  parser.on("opentag", (tag) => handlers.open(tag.name, (tag as SaxesTagPlain).attributes));
  parser.on("closetag", (tag) => handlers.close(tag.name));
  parser.on("text", handlers.text);
  parser.on("cdata", handlers.text);
  const decoder = new TextDecoder("utf-8", { ignoreBOM: false });
  try {
    for await (const chunk of stream) parser.write(decoder.decode(chunk as Buffer, { stream: true }));
    parser.write(decoder.decode()).close();
  } catch (err) {
    if ((err as { code?: string }).code === "DOCUMENT_TOO_LARGE") throw err;
    corrupt(what, err);
  }
}
