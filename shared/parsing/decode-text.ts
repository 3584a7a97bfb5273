import chardet from "chardet";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes text bytes. UTF-8 (with or without BOM) wins whenever the bytes are valid UTF-8 —
 * whatever a document *declares* (web pages lie: a `<meta charset=gb2312>` over UTF-8 bytes).
 * Otherwise the declared charset is tried, then chardet's guess (Shift-JIS, GBK, Latin-1 …).
 */
export function decodeText(bytes: Uint8Array, declared?: string): { text: string; encoding: string } {
  try {
    return { text: stripBom(utf8.decode(bytes)), encoding: "utf-8" };
  } catch {
    // not UTF-8
  }
  const candidates = [declared, chardet.detect(bytes), "windows-1252"].filter((c): c is string => Boolean(c));
  for (const encoding of candidates) {
    try {
      return { text: stripBom(new TextDecoder(encoding, { fatal: true }).decode(bytes)), encoding: encoding.toLowerCase() };
    } catch {
      // unknown label or invalid bytes for it: try the next
    }
  }
  return { text: stripBom(new TextDecoder("windows-1252").decode(bytes)), encoding: "windows-1252" };
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** True when the bytes look like text: no NUL bytes and few control characters in the first 8 KB. */
export function looksLikeText(bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, 8192);
  if (sample.length === 0) return true;
  let control = 0;
  for (const b of sample) {
    if (b === 0) return false;
    if (b < 9 || (b > 13 && b < 32)) control++;
  }
  return control / sample.length < 0.02;
}
