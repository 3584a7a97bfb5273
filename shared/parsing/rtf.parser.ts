import { TextDecoder } from "node:util";
import { permanent } from "../errors/app-error.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";

/** Destinations whose content is not document text (tables of fonts and styles, metadata, pictures, field codes …). */
const SKIP = new Set([
  "fonttbl", "colortbl", "stylesheet", "info", "pict", "objdata", "listtable", "listoverridetable", "revtbl", "rsidtbl", "generator",
  "xmlnstbl", "themedata", "colorschememapping", "latentstyles", "datastore", "filetbl", "fldinst", "bkmkstart", "bkmkend", "pntext",
  "pntxta", "pntxtb", "listtext", "mmathPr", "wgrffmtfilter", "pgdsctbl", "docvar", "userprops", "nonshppict", "shpinst", "header",
  "headerl", "headerr", "headerf", "footer", "footerl", "footerr", "footerf", "xe", "tc", "private", "atnid", "atnauthor", "annotation",
  "defchp", "defpap", "fchars", "lchars", "protusertbl", "ftnsep", "ftnsepc", "ftncn", "aftnsep", "aftnsepc", "aftncn", "template",
]);
const SYMBOLS: Record<string, string> = {
  par: "\n\n", sect: "\n\n", page: "\n\n", line: "\n", tab: "\t", cell: "\t", row: "\n", nestcell: "\t", nestrow: "\n",
  emdash: "—", endash: "–", bullet: "•", lquote: "‘", rquote: "’", ldblquote: "“", rdblquote: "”", emspace: " ", enspace: " ", qmspace: " ",
};
/** \fcharset → Windows code page. */
const CHARSET_CODEPAGE: Record<number, number> = {
  0: 1252, 128: 932, 129: 949, 134: 936, 136: 950, 161: 1253, 162: 1254, 163: 1258, 177: 1255, 178: 1256, 186: 1257, 204: 1251, 222: 874, 238: 1250,
};
const CODEPAGE_LABEL: Record<number, string> = { 932: "shift_jis", 936: "gbk", 949: "euc-kr", 950: "big5", 874: "windows-874", 10000: "macintosh" };

function decoderFor(codepage: number): TextDecoder {
  try {
    return new TextDecoder(CODEPAGE_LABEL[codepage] ?? `windows-${codepage}`);
  } catch {
    return new TextDecoder("windows-1252");
  }
}

interface GroupState {
  skip: boolean;
  uc: number;
  codepage: number;
  inFontTable: boolean;
}

/**
 * RTF, read by a small reader of our own: the npm RTF packages are unmaintained (rtf-parser, 2016)
 * or render to a DOM (rtf.js). It follows the spec's groups and control words: `\'xx` bytes are
 * decoded in the document's `\ansicpg` code page, or the current font's `\fcharset`; `\uN` with
 * its `\ucN` fallback characters skipped; `\*` destinations and font, colour and style tables,
 * metadata, pictures, headers, footers and field instructions are skipped (field results kept).
 * Paragraphs become blank-line separated; table cells are separated by tabs, rows by newlines.
 */
export const rtfParser: DocumentParser = {
  async parse(content): Promise<ParsedDocument> {
    const src = content.toString("latin1");
    if (!/^\s*\{\\rtf/.test(src)) throw permanent("DOCUMENT_CORRUPT", "the file is not RTF (it does not start with {\\rtf)");
    const text = rtfToText(src)
      .replace(/[ \t]+\n/g, "\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim();
    if (!text) throw permanent("NO_TEXT", "the RTF document has no text");
    return { sections: [{ text, heading: null }], pageCount: null };
  },
};

export function rtfToText(src: string): string {
  const fontCodepage = new Map<number, number>();
  let state: GroupState = { skip: false, uc: 1, codepage: 1252, inFontTable: false };
  const stack: GroupState[] = [];
  let out = "";
  let bytes: number[] = [];
  let skipChars = 0;
  let fontNumber = -1;
  let decoder = decoderFor(1252);
  let decoderPage = 1252;
  let groupStart = false;

  const flushBytes = () => {
    if (bytes.length === 0) return;
    if (decoderPage !== state.codepage) {
      decoder = decoderFor(state.codepage);
      decoderPage = state.codepage;
    }
    out += decoder.decode(Uint8Array.from(bytes));
    bytes = [];
  };
  const emit = (s: string) => {
    flushBytes();
    if (!state.skip) out += s;
  };

  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === "\r" || ch === "\n") continue;
    const isGroupStart: boolean = groupStart;
    groupStart = false;
    if (ch === "{") {
      flushBytes();
      stack.push(state);
      state = { ...state };
      groupStart = true;
    } else if (ch === "}") {
      flushBytes();
      state = stack.pop() ?? state;
      skipChars = 0;
    } else if (ch === "\\") {
      const next = src[i + 1] ?? "";
      if (/[a-zA-Z]/.test(next)) {
        const m = /^([a-zA-Z]{1,32})(-?\d{1,10})? ?/.exec(src.slice(i + 1, i + 50))!;
        i += m[0].length;
        const word = m[1]!;
        const param = m[2] === undefined ? undefined : Number(m[2]);
        if (skipChars > 0) {
          skipChars--;
          continue;
        }
        if (SKIP.has(word) && isGroupStart) {
          if (word === "fonttbl") state.inFontTable = true;
          else state.skip = true;
          continue;
        }
        switch (word) {
          case "ansicpg":
            if (param) state.codepage = param;
            break;
          case "mac":
            state.codepage = 10000;
            break;
          case "uc":
            state.uc = param ?? 1;
            break;
          case "u":
            if (param !== undefined) {
              emit(String.fromCharCode(param < 0 ? param + 65536 : param));
              skipChars = state.uc;
            }
            break;
          case "f":
            if (state.inFontTable) fontNumber = param ?? 0;
            else if (param !== undefined && fontCodepage.has(param)) {
              flushBytes();
              state.codepage = fontCodepage.get(param)!;
            }
            break;
          case "fcharset":
            if (state.inFontTable && param !== undefined && CHARSET_CODEPAGE[param]) fontCodepage.set(fontNumber, CHARSET_CODEPAGE[param]);
            break;
          case "cpg":
            if (state.inFontTable && param) fontCodepage.set(fontNumber, param);
            break;
          case "bin":
            // Binary data follows: skip it. A negative count (`\bin-20`) would walk backwards forever.
            if (param !== undefined && param > 0) i += param;
            break;
          default:
            if (SYMBOLS[word] !== undefined && !state.inFontTable) emit(SYMBOLS[word]);
        }
      } else if (next === "'") {
        const byte = parseInt(src.slice(i + 2, i + 4), 16);
        i += 3;
        if (skipChars > 0) skipChars--;
        else if (!state.skip && !state.inFontTable && Number.isFinite(byte)) bytes.push(byte);
      } else {
        i += 1;
        if (next === "*") {
          if (isGroupStart) state.skip = true;
          groupStart = isGroupStart;
        } else if (skipChars > 0) skipChars--;
        else if (state.inFontTable) continue;
        else if (next === "\\" || next === "{" || next === "}") emit(next);
        else if (next === "~") emit("\u00a0");
        else if (next === "_") emit("-");
        else if (next === "\n" || next === "\r") emit("\n\n");
      }
    } else if (skipChars > 0) {
      skipChars--;
    } else if (!state.skip && !state.inFontTable) {
      const code = ch.charCodeAt(0);
      if (code >= 0x80) bytes.push(code);
      else emit(ch === "\t" ? "\t" : ch);
    }
  }
  flushBytes();
  return out.replace(/\u00a0/g, " ");
}
