/**
 * What each corpus PDF must give (../shared/corpus/SOURCES.md), as concrete checks. Text is
 * compared after NFKC, as Quarry stores it; what the raw text held before NFKC is reported too.
 */
export type Verdict = "correct" | "degraded" | "wrong" | "crashed";

export interface Outcome {
  ok: boolean;
  pageCount?: number;
  pages?: string[];
  ms?: number;
  error?: { name?: string; code?: string; message: string };
  /** The thread died (out of memory, time limit). */
  died?: string;
}

export interface Judged {
  verdict: Verdict;
  notes: string;
}

const has = (text: string, s: string) => text.includes(s);
const squash = (s: string) => s.replace(/\s+/g, " ");
const PASSWORD = /password/i;

type Check = (o: Outcome, text: string, raw: string) => Judged;

const expectError =
  (kind: "password" | "corrupt"): Check =>
  (o) => {
    if (o.died) return { verdict: "crashed", notes: o.died };
    if (o.ok) return { verdict: "wrong", notes: `opened without error (${o.pageCount} pages)` };
    const msg = `${o.error?.name ?? ""} ${o.error?.message ?? ""}`;
    const isPassword = PASSWORD.test(msg);
    if (kind === "password") return isPassword ? { verdict: "correct", notes: `refused: ${msg.trim()}` } : { verdict: "degraded", notes: `refused, but not as encrypted: ${msg.trim()}` };
    return isPassword ? { verdict: "wrong", notes: `reported as encrypted: ${msg.trim()}` } : { verdict: "correct", notes: `refused: ${msg.trim()}` };
  };

const expectText =
  (must: string[], extra?: (text: string, raw: string, o: Outcome) => Judged | undefined): Check =>
  (o, text, raw) => {
    if (o.died) return { verdict: "crashed", notes: o.died };
    if (!o.ok) return { verdict: "crashed", notes: `threw ${o.error?.name}: ${o.error?.message}` };
    const missing = must.filter((s) => !has(squash(text), s));
    if (missing.length) return { verdict: "wrong", notes: `missing ${missing.map((m) => JSON.stringify(m)).join(", ")}; starts ${JSON.stringify(squash(text).slice(0, 60))}` };
    return extra?.(text, raw, o) ?? { verdict: "correct", notes: `${must.map((m) => JSON.stringify(m)).join(", ")} found` };
  };

export const CHECKS: Record<string, Check> = {
  "tracemonkey.pdf": expectText(["Trace-based Just-in-Time Type Specialization", "Andreas Gal"], (text, raw, o) => {
    // Two columns: the abstract's first sentence must run on before the right column's introduction starts.
    const flat = squash(text);
    const abstract = flat.indexOf("Dynamic languages such as JavaScript are more difficult to com");
    const intro = flat.indexOf("1. Introduction");
    const ligatureCodepoints = (raw.match(/[\uFB00-\uFB06]/g) ?? []).length;
    const brokenFi = (flat.match(/\b(e cient|speci c|signi cant|di erent)\b/g) ?? []).length;
    // Words split over two lines: pdf.js keeps "com-\npile"; PDFium marks the hyphen U+FFFE and joins the lines.
    const split = (flat.match(/\bcom- ?pile\b/g) ?? []).length;
    const marked = (raw.match(/\uFFFE/g) ?? []).length;
    const notes = `${o.pageCount} pages, ${text.length} chars; abstract before introduction: ${abstract >= 0 && abstract < intro}; raw ligature code points ${ligatureCodepoints}, dropped ligatures ${brokenFi}; line-end hyphens kept ${split ? "as -\\n" : marked ? `as U+FFFE (${marked})` : "none"}`;
    if (o.pageCount !== 14 || abstract < 0 || intro < 0 || abstract > intro || brokenFi > 0) return { verdict: abstract < 0 || intro < 0 ? "wrong" : "degraded", notes };
    return { verdict: "correct", notes };
  }),
  "freeculture.pdf": expectText(["Free Culture", "Lawrence Lessig"], (text, _raw, o) => {
    if (o.pageCount !== 352) return { verdict: "wrong", notes: `${o.pageCount} pages` };
    // The printer's slug ("4TH PASS PAGES", the .qxd file name, crop marks) lies outside every page's CropBox.
    const slugs = (text.match(/4TH PASS PAGES/g) ?? []).length;
    const notes = `352 pages, ${text.length} chars, printer's slug lines outside the CropBox on ${slugs} pages`;
    return { verdict: slugs > 0 ? "degraded" : "correct", notes };
  }),
  "160F-2019.pdf": expectText(["modèle 160", "salarié(e)"]),
  "90ms_rksj_h_sample.pdf": expectText(["Hello ASCII", "日本語テスト"]),
  "XiaoBiaoSong.pdf": (o, text, raw) => {
    const direct = expectText(["关于红军作战的原则"])(o, text, raw);
    if (direct.verdict !== "wrong") return direct;
    // Right characters with a space between each: a keyword search for the phrase misses it.
    const joined = text.replace(/(?<=[\u4E00-\u9FFF]) (?=[\u4E00-\u9FFF])/g, "");
    return joined.includes("关于红军作战的原则") ? { verdict: "degraded", notes: `right characters, a space between each: ${JSON.stringify(text.trim().slice(0, 24))}` } : direct;
  },
  "ArabicCIDTrueType.pdf": expectText(["العربية"], (text, raw) => {
    const forms = (raw.match(/[\uFB50-\uFDFF\uFE70-\uFEFF]/g) ?? []).length;
    // The page reads "انواع الخطوط العربية" (kinds of Arabic fonts): logical order, lam-alef kept whole.
    const logical = squash(text).includes("انواع الخطوط العربية");
    const notes = `raw presentation forms ${forms}${forms ? " (NFKC makes base letters)" : ""}; ${logical ? "logical word order, الخطوط whole" : "words in visual (reversed) order, lam-alef split (اخلطوط)"}; starts ${JSON.stringify(squash(text).slice(0, 20))}`;
    return { verdict: logical ? "correct" : "degraded", notes };
  }),
  "issue5747.pdf": expectText(["Lorem ipsum dolor sit amet"], (text) => ({ verdict: "correct", notes: `${text.replace(/\s/g, "").length} non-space chars of the scan's OCR layer` })),
  "issue3371.pdf": expectError("password"),
  "issue6010_1.pdf": expectError("password"),
  "bug1020226.pdf": expectError("corrupt"),
  "xref_command_missing.pdf": expectText(["Reduced test-case"]),
  "poppler-85140-0.pdf": (o, text) => {
    if (o.died) return { verdict: "crashed", notes: o.died };
    if (!o.ok) return { verdict: "correct", notes: `refused: ${o.error?.message}` };
    const notes = `pageCount ${o.pageCount}, ${text.trim().length} chars, ${o.ms?.toFixed(0)} ms`;
    return (o.pageCount ?? 0) > 100 ? { verdict: "wrong", notes: `${notes}: trusts /Count` } : { verdict: "correct", notes };
  },
  "bomb_giant.pdf": expectText(["GIANT JBIG2 BOMB"], (_t, _r, o) => ({ verdict: "correct", notes: `text read in ${o.ms?.toFixed(0)} ms` })),
  "linn.pdf": (o, text) => {
    if (o.died) return { verdict: "crashed", notes: o.died };
    if (!o.ok) return o.error?.code === "NO_TEXT" ? { verdict: "correct", notes: "NO_TEXT (OCR off in this run): goes to OCR" } : { verdict: "wrong", notes: `threw ${o.error?.name}: ${o.error?.message}` };
    return o.pageCount === 1 && text.trim() === "" ? { verdict: "correct", notes: "1 page, no text: goes to OCR" } : { verdict: "wrong", notes: `${o.pageCount} pages, ${text.length} chars` };
  },
};

export function judge(file: string, o: Outcome): Judged {
  const raw = (o.pages ?? []).join("\n");
  const check = CHECKS[file];
  if (!check) return { verdict: "wrong", notes: "no check for this file" };
  return check(o, raw.normalize("NFKC"), raw);
}
