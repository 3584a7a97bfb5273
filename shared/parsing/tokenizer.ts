import { getEncoding, type Tiktoken } from "js-tiktoken";

let encoding: Tiktoken | undefined;

/** cl100k_base, the tokenizer of OpenAI's embedding models; loaded once per process (~0.5 s). */
export function tokenizer(): Tiktoken {
  encoding ??= getEncoding("cl100k_base");
  return encoding;
}

const LONG_RUN = 128;

/**
 * Tokens in `text`. BPE is quadratic in the length of a run without whitespace (CJK text, base64,
 * minified data), so such runs are counted in slices of 128 characters: exact for ordinary text,
 * a slight over-count (never an under-count that would break a budget) for the rest.
 */
export function countTokens(text: string): number {
  const enc = tokenizer();
  if (!new RegExp(`\\S{${LONG_RUN + 1}}`).test(text)) return enc.encode(text).length;
  let total = 0;
  let start = 0;
  for (const match of text.matchAll(new RegExp(`\\S{${LONG_RUN + 1},}`, "g"))) {
    const runStart = match.index;
    const runEnd = runStart + match[0].length;
    if (runStart > start) total += enc.encode(text.slice(start, runStart)).length;
    for (let i = runStart; i < runEnd; i += LONG_RUN) total += enc.encode(text.slice(i, Math.min(runEnd, i + LONG_RUN))).length;
    start = runEnd;
  }
  if (start < text.length) total += enc.encode(text.slice(start)).length;
  return total;
}
