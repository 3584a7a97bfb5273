/**
 * The PDF engines compared by `npm run bench -- pdf-engines`, each as "bytes in, text per page out".
 * Both pdf.js versions are driven directly with the options Quarry's parser uses (predefined CMaps,
 * standard fonts, WASM image decoders, no eval); `quarry` is Quarry's own PDF parser as it runs in a
 * parse thread (pdf-parse 2.4.5 on the overridden pdf.js, NFKC, OCR off).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { PDFiumLibrary } from "@hyzyla/pdfium";

export type EngineName = "pdfjs-5.4" | "pdfjs-6.5" | "pdfium" | "quarry" | "quarry-before";
export const ENGINES: EngineName[] = ["pdfjs-5.4", "pdfjs-6.5", "pdfium", "quarry"];
/** `quarry-before`: pdf-parse as Quarry called it before the leak fix (its failing destroy() swallowed). */
export const MEMORY_ENGINES: EngineName[] = [...ENGINES, "quarry-before"];

export interface EngineDoc {
  pageCount: number;
  pages: string[];
}

export interface Engine {
  version: string;
  extract(bytes: Uint8Array): Promise<EngineDoc>;
  /** Bytes of WebAssembly memory the engine holds (outside V8's heap), where it has any. */
  wasmBytes?(): number;
}

const require = createRequire(import.meta.url);
// Some packages do not export their package.json.
const packageVersion = (name: string) =>
  (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), "utf8")) as { version: string }).version;

interface PdfjsModule {
  getDocument(options: object): { promise: Promise<PdfjsDoc>; destroy(): Promise<void> };
  version: string;
}
interface PdfjsDoc {
  numPages: number;
  getPage(n: number): Promise<{ getTextContent(): Promise<{ items: Array<{ str?: string; hasEOL?: boolean }> }>; cleanup(): void }>;
}

async function pdfjsEngine(pkg: string): Promise<Engine> {
  const root = path.dirname(require.resolve(`${pkg}/package.json`));
  const pdfjs = (await import(require.resolve(`${pkg}/legacy/build/pdf.mjs`))) as PdfjsModule;
  return {
    version: pdfjs.version,
    async extract(bytes) {
      const task = pdfjs.getDocument({
        data: bytes.slice(),
        cMapUrl: `${path.join(root, "cmaps")}/`,
        cMapPacked: true,
        standardFontDataUrl: `${path.join(root, "standard_fonts")}/`,
        wasmUrl: `${path.join(root, "wasm")}/`,
        isEvalSupported: false,
        verbosity: 0,
      });
      try {
        const doc = await task.promise;
        const pages: string[] = [];
        for (let n = 1; n <= doc.numPages; n++) {
          const page = await doc.getPage(n);
          const content = await page.getTextContent();
          pages.push(content.items.map((i) => (i.str ?? "") + (i.hasEOL ? "\n" : "")).join(""));
          page.cleanup();
        }
        return { pageCount: doc.numPages, pages };
      } finally {
        // The loading task owns the document in every pdf.js version (PDFDocumentProxy.destroy is gone in 6.x).
        await task.destroy();
      }
    },
  };
}

async function pdfiumEngine(): Promise<Engine> {
  const library = await PDFiumLibrary.init();
  const version = packageVersion("@hyzyla/pdfium");
  const heap = () => (library as unknown as { module: { HEAPU8: Uint8Array } }).module.HEAPU8.buffer.byteLength;
  return {
    version: `@hyzyla/pdfium ${version}`,
    wasmBytes: heap,
    async extract(bytes) {
      const doc = await library.loadDocument(bytes);
      try {
        const pageCount = doc.getPageCount();
        const pages: string[] = [];
        for (let i = 0; i < pageCount; i++) {
          const page = doc.getPage(i);
          pages.push(page.getText());
          // @hyzyla/pdfium 2.1 closes a page only after render(): without this every page of every
          // document stays in WASM memory (measured: +19 MB per parse of a 352-page book).
          const raw = page as unknown as { module: { _FPDF_ClosePage(p: number): void }; pageIdx: number };
          raw.module._FPDF_ClosePage(raw.pageIdx);
        }
        return { pageCount, pages };
      } finally {
        doc.destroy();
      }
    },
  };
}

async function quarryEngine(): Promise<Engine> {
  const { pdfParser } = await import("../../shared/parsing/pdf.parser.ts");
  return {
    version: `pdf-parse ${packageVersion("pdf-parse")} on pdfjs-dist ${packageVersion("pdfjs-dist")}`,
    async extract(bytes) {
      const parsed = await pdfParser.parse(Buffer.from(bytes), { maxPages: 100_000, maxDecompressedBytes: 1e9, ocr: { enabled: false, languages: ["eng"], maxPages: 0 } });
      const pages: string[] = Array.from({ length: parsed.pageCount ?? 0 }, () => "");
      for (const s of parsed.sections) pages[(s.page ?? 1) - 1] = s.text;
      return { pageCount: parsed.pageCount ?? 0, pages };
    },
  };
}

async function quarryBeforeEngine(): Promise<Engine> {
  const { PDFParse } = await import("pdf-parse");
  const root = path.dirname(require.resolve("pdfjs-dist/package.json"));
  return {
    version: `pdf-parse ${packageVersion("pdf-parse")} on pdfjs-dist ${packageVersion("pdfjs-dist")}, destroy() error swallowed`,
    async extract(bytes) {
      const parser = new PDFParse({ data: bytes.slice(), cMapUrl: `${path.join(root, "cmaps")}/`, cMapPacked: true, standardFontDataUrl: `${path.join(root, "standard_fonts")}/`, isEvalSupported: false });
      try {
        const result = await parser.getText({ pageJoiner: "" });
        return { pageCount: result.total, pages: result.pages.map((p) => p.text) };
      } finally {
        await parser.destroy().catch(() => undefined);
      }
    },
  };
}

export async function loadEngine(name: EngineName): Promise<Engine> {
  switch (name) {
    case "pdfjs-5.4":
      return pdfjsEngine("pdfjs-dist-5");
    case "pdfjs-6.5":
      return pdfjsEngine("pdfjs-dist");
    case "pdfium":
      return pdfiumEngine();
    case "quarry":
      return quarryEngine();
    case "quarry-before":
      return quarryBeforeEngine();
  }
}
