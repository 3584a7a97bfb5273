import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The handed-over corpus beside the repository (../shared/corpus), or QUARRY_CORPUS_DIR. */
export const CORPUS_DIR = process.env.QUARRY_CORPUS_DIR ?? path.resolve(fileURLToPath(new URL("../../../shared/corpus", import.meta.url)));

if (!existsSync(CORPUS_DIR)) {
  throw new Error(`the test corpus is missing at ${CORPUS_DIR}; clone the repository next to shared/ or set QUARRY_CORPUS_DIR`);
}

export const corpusPath = (name: string) => path.join(CORPUS_DIR, name);
export const corpusFile = (name: string) => readFileSync(corpusPath(name));

/**
 * What every corpus file must come to (see ../shared/corpus/SOURCES.md): plausible text that
 * contains `contains`, or a failure with `code`. `unsupported` files are refused at upload (415).
 */
export type Expectation =
  | { file: string; contains: string[]; pages?: number; excludes?: RegExp }
  | { file: string; code: string }
  | { file: string; unsupported: true };

export const CORPUS_EXPECTATIONS: Expectation[] = [
  { file: "csv/long-sample-with-errors.csv", contains: ["Längengrad (°): 26.360865"] },
  { file: "csv/sjis-sample.csv", contains: ["コントロールカラム", "商品管理番号（商品URL）"] },
  { file: "csv/utf-8-bom-sample.csv", contains: ["A: X; B: Y; C: Z"], excludes: /\uFEFF/ },
  { file: "docx/comments.docx", contains: ["Ouch."] },
  { file: "docx/empty.zip", unsupported: true },
  { file: "docx/footnotes.docx", contains: ["Ouch", "A tachyon walks into a bar.", "Fin."] },
  { file: "docx/tables.docx", contains: ["Above", "Top left | Top right", "Bottom left | Bottom right", "Below"] },
  { file: "docx/text-box.docx", contains: ["Datum plane"] },
  { file: "docx/tiny-picture.docx", code: "NO_TEXT" },
  { file: "docx/track-changes-test.docx", contains: ["This is new content, that I suggest."] },
  { file: "html/qq/source.html", contains: ["DeepMind", "谷歌"], excludes: /Ã|å\u0085|è°·/ },
  { file: "html/wikipedia/source.html", contains: ["Mozilla", "Firefox"], excludes: /Navigation menu|Personal tools/ },
  { file: "markdown/README.md", contains: ["Mammoth is designed to convert .docx documents"] },
  { file: "pdf/160F-2019.pdf", contains: ["modèle 160", "salarié(e)"] },
  { file: "pdf/90ms_rksj_h_sample.pdf", contains: ["Hello ASCII", "日本語テスト"] },
  { file: "pdf/ArabicCIDTrueType.pdf", contains: ["العربية"], excludes: /[\uFE70-\uFEFF]/ },
  // GBK text without a ToUnicode map: pdf.js 6.5 with the bundled CMaps reads it (5.4 gave mojibake).
  { file: "pdf/XiaoBiaoSong.pdf", contains: ["关于红军作战的原则"] },
  { file: "pdf/bomb_giant.pdf", contains: ["GIANT JBIG2 BOMB"] },
  { file: "pdf/bug1020226.pdf", code: "DOCUMENT_CORRUPT" },
  { file: "pdf/freeculture.pdf", contains: ["Free Culture", "Lawrence Lessig"], pages: 352 },
  { file: "pdf/issue3371.pdf", code: "PDF_ENCRYPTED" },
  { file: "pdf/issue5747.pdf", contains: ["Lorem ipsum dolor sit amet"] },
  { file: "pdf/issue6010_1.pdf", code: "PDF_ENCRYPTED" },
  { file: "pdf/poppler-85140-0.pdf", code: "NO_TEXT" },
  { file: "pdf/tracemonkey.pdf", contains: ["Trace-based Just-in-Time Type Specialization"], pages: 14 },
  { file: "pdf/xref_command_missing.pdf", contains: ["Reduced test-case"] },
  { file: "text/NEWS", contains: ["Support links and images in footnotes and endnotes."] },
];
