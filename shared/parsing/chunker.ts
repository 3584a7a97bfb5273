import { countTokens } from "./tokenizer.ts";

/** A stretch of a document's text with where it came from. */
export interface Section {
  text: string;
  page?: number | null;
  heading?: string | null;
  /** The spreadsheet's sheet name (XLSX, ODS): a chunk never spans two sheets. */
  sheet?: string | null;
  /** The slide number (PPTX), from 1. */
  slide?: number | null;
  /** Mean word confidence (0–100) when the text came from OCR, else absent. */
  ocrConfidence?: number | null;
}

/** Where a chunk came from, for citations: the fields of its first unit. */
export interface ChunkSource {
  page: number | null;
  heading: string | null;
  sheet: string | null;
  slide: number | null;
  ocrConfidence: number | null;
}

export interface Chunk extends ChunkSource {
  text: string;
  tokenCount: number;
}

export interface ChunkOptions {
  /** Maximum tokens per chunk (cl100k_base). */
  size: number;
  /** Tokens repeated from the end of one chunk at the start of the next. */
  overlap: number;
}

interface Unit extends ChunkSource {
  text: string;
  tokens: number;
  /** What joins this unit to the one before it in a chunk. */
  joiner: string;
}

const sentences = new Intl.Segmenter(undefined, { granularity: "sentence" });

/**
 * Token-aware chunking. Text is cut at paragraph boundaries, then sentence boundaries, then (for
 * a sentence longer than a chunk) at whitespace; units are packed greedily up to `size` tokens,
 * and each chunk starts with whole units from the end of the previous one, up to `overlap`
 * tokens. A chunk carries the page, heading, sheet, slide and OCR confidence of its first unit, for
 * citations; a new sheet or slide always starts a new chunk, with no overlap carried across.
 */
export function chunkSections(sections: Section[], options: ChunkOptions): Chunk[] {
  const units = sections.flatMap((s) => toUnits(s, options.size));
  const chunks: Chunk[] = [];
  let current: Unit[] = [];
  let tokens = 0;

  const emit = () => {
    const [first] = current;
    if (!first) return;
    chunks.push({
      text: current.map((u, i) => (i === 0 ? u.text : u.joiner + u.text)).join(""),
      tokenCount: tokens,
      page: first.page,
      heading: first.heading,
      sheet: first.sheet,
      slide: first.slide,
      ocrConfidence: first.ocrConfidence,
    });
  };

  for (const unit of units) {
    if (current.length > 0 && (unit.sheet !== current[0]!.sheet || unit.slide !== current[0]!.slide)) {
      emit();
      current = [];
      tokens = 0;
    }
    if (current.length > 0 && tokens + unit.tokens + 1 > options.size) {
      emit();
      const carried: Unit[] = [];
      let carriedTokens = 0;
      for (let i = current.length - 1; i >= 0; i--) {
        const u = current[i]!;
        if (carriedTokens + u.tokens + 1 > options.overlap || carriedTokens + u.tokens + unit.tokens + 2 > options.size) break;
        carried.unshift(u);
        carriedTokens += u.tokens + 1;
      }
      current = carried;
      tokens = carriedTokens;
    }
    tokens += unit.tokens + (current.length > 0 ? 1 : 0);
    current.push(unit);
  }
  emit();
  return chunks;
}

function toUnits(section: Section, size: number): Unit[] {
  const source: ChunkSource = {
    page: section.page ?? null,
    heading: section.heading ?? null,
    sheet: section.sheet ?? null,
    slide: section.slide ?? null,
    ocrConfidence: section.ocrConfidence ?? null,
  };
  const units: Unit[] = [];
  for (const paragraph of section.text.split(/\n\s*\n/)) {
    const text = paragraph.trim();
    if (!text) continue;
    // Short paragraphs (the common case) are counted whole. Long ones are counted once, sentence
    // by sentence: the sum bounds the whole from above, so a paragraph that fits stays one unit.
    if (text.length <= size * 2) {
      const tokens = countTokens(text);
      if (tokens <= size) {
        units.push({ text, tokens, ...source, joiner: "\n\n" });
        continue;
      }
    }
    const pieces: Array<{ text: string; tokens: number; joiner: string }> = [];
    for (const { segment } of sentences.segment(text)) {
      const split = splitOversized(segment.trim(), size);
      // Sentences separated by whitespace get a space back; unspaced scripts (CJK) get none.
      if (split.length > 0) split[split.length - 1]!.joiner = /\s$/.test(segment) ? " " : "";
      pieces.push(...split);
    }
    const total = pieces.reduce((sum, p) => sum + p.tokens, 0);
    if (total <= size) {
      units.push({ text, tokens: total, ...source, joiner: "\n\n" });
      continue;
    }
    let joiner = "\n\n";
    for (const piece of pieces) {
      units.push({ text: piece.text, tokens: piece.tokens, ...source, joiner });
      joiner = piece.joiner;
    }
  }
  return units;
}

/**
 * Splits a sentence that alone exceeds a chunk into pieces of at most `size` tokens, preferring
 * spaces. `joiner` is what stood between a piece and the next one in the original.
 */
function splitOversized(text: string, size: number): Array<{ text: string; tokens: number; joiner: string }> {
  const tokens = countTokens(text);
  if (tokens <= size) return [{ text, tokens, joiner: " " }];
  const chars = [...text];
  // Aim below the limit so whitespace snapping and token boundaries still fit.
  const target = Math.max(1, Math.floor((chars.length * size * 0.9) / tokens));
  const pieces: Array<{ text: string; tokens: number; joiner: string }> = [];
  let start = 0;
  while (start < chars.length) {
    let end = Math.min(chars.length, start + target);
    if (end < chars.length) {
      const space = chars.lastIndexOf(" ", end);
      if (space > start + target / 2) end = space;
    }
    let piece = chars.slice(start, end).join("");
    let pieceTokens = countTokens(piece);
    while (pieceTokens > size && end - start > 1) {
      end = start + Math.floor((end - start) * 0.8);
      piece = chars.slice(start, end).join("");
      pieceTokens = countTokens(piece);
    }
    const atSpace = chars[end] === " ";
    if (piece.trim()) pieces.push({ text: piece.trim(), tokens: pieceTokens, joiner: atSpace ? " " : "" });
    start = atSpace ? end + 1 : end;
  }
  return pieces;
}
