import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { readRelationships } from "./ooxml.ts";
import { columnIndex, type MergedRange, type SheetRow, sheetsOutcome, sheetToSections } from "./sheet-sections.ts";
import { attr, childElements, findAll, findFirst, localName, parseXml, relAttr, streamXml } from "./xml.ts";
import { openZip, type ZipArchive } from "./zip-guard.ts";

/** Excel's limits: columns A–XFD, rows 1–1,048,576. */
const MAX_COLUMN = 16_383;
const MAX_ROW = 1_048_576;

/**
 * Excel workbooks (.xlsx, .xlsm): one passage group per visible sheet, rows as `header: value`
 * lines (see sheetToSections), every section citing its sheet. Cells are read by their cached
 * values, so a formula gives what Excel last computed; dates are written as ISO dates. Hidden and
 * veryHidden sheets are skipped and named in a HIDDEN_SHEETS_SKIPPED warning. Worksheets are
 * streamed (a 60 MB sheet is never held as one string).
 */
export const xlsxParser: DocumentParser = {
  async parse(content, limits): Promise<ParsedDocument> {
    const zip = await openZip(content, limits.maxDecompressedBytes);
    try {
      return await parseWorkbook(zip);
    } finally {
      zip.close();
    }
  },
};

async function parseWorkbook(zip: ZipArchive): Promise<ParsedDocument> {
  const rootRels = await readRelationships(zip, "");
  const workbookPart = [...rootRels.values()].find((r) => r.type === "officeDocument")?.target ?? "xl/workbook.xml";
  if (!zip.has(workbookPart)) throw permanent("DOCUMENT_CORRUPT", "the file is a zip archive but not an Excel workbook (no workbook part)");
  const workbook = parseXml(await zip.text(workbookPart), workbookPart);
  const rels = await readRelationships(zip, workbookPart);
  const partOf = (type: string) => [...rels.values()].find((r) => r.type === type && zip.has(r.target))?.target;
  const date1904 = ["1", "true"].includes(attr(findFirst(workbook, "workbookPr") ?? workbook, "date1904") ?? "");
  const sharedStrings = partOf("sharedStrings") ? await readSharedStrings(zip, partOf("sharedStrings")!) : [];
  const styles = partOf("styles") ? await readDateStyles(zip, partOf("styles")!) : new Set<number>();

  const sections: Section[] = [];
  const hidden: string[] = [];
  let visible = 0;
  // Each worksheet part once, whatever number of <sheet> entries point to it (as EPUB spines).
  const read = new Set<string>();
  for (const sheet of findAll(workbook, "sheet")) {
    const name = attr(sheet, "name") ?? "";
    const rel = rels.get(relAttr(sheet) ?? "");
    if (!rel || rel.type !== "worksheet" || !zip.has(rel.target) || read.has(rel.target)) continue;
    read.add(rel.target);
    if (["hidden", "veryHidden"].includes(attr(sheet, "state") ?? "")) {
      hidden.push(name);
      continue;
    }
    visible++;
    const { rows, merges } = await readWorksheet(zip, rel.target, { sharedStrings, dateStyles: styles, date1904 });
    sections.push(...sheetToSections(name, rows, merges));
  }
  return sheetsOutcome(sections, hidden, visible);
}

async function readSharedStrings(zip: ZipArchive, part: string): Promise<string[]> {
  const strings: string[] = [];
  let current: string | null = null;
  let inText = false;
  let phonetic = 0;
  await streamXml(
    await zip.stream(part),
    {
      open(name) {
        const local = localName(name);
        if (local === "si") current = "";
        else if (local === "rPh") phonetic++;
        else if (local === "t" && phonetic === 0) inText = true;
      },
      close(name) {
        const local = localName(name);
        if (local === "si") {
          strings.push(current ?? "");
          current = null;
        } else if (local === "rPh") phonetic--;
        else if (local === "t") inText = false;
      },
      text(text) {
        if (inText && current !== null) current += text;
      },
    },
    part,
  );
  return strings;
}

const BUILTIN_DATE_FORMATS = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58]);

/** The cell style indexes (`s`) whose number format shows a date or time. */
async function readDateStyles(zip: ZipArchive, part: string): Promise<Set<number>> {
  const styles = parseXml(await zip.text(part), part);
  const custom = new Map<number, string>();
  for (const fmt of findAll(styles, "numFmt")) custom.set(Number(attr(fmt, "numFmtId")), attr(fmt, "formatCode") ?? "");
  const dates = new Set<number>();
  const cellXfs = findFirst(styles, "cellXfs");
  childElements(cellXfs ?? styles, "xf").forEach((xf, i) => {
    const id = Number(attr(xf, "numFmtId") ?? 0);
    const code = custom.get(id);
    if (code === undefined ? BUILTIN_DATE_FORMATS.has(id) : isDateFormat(code)) dates.add(i);
  });
  return dates;
}

function isDateFormat(code: string): boolean {
  const bare = code
    .replace(/"[^"]*"/g, "")
    .replace(/\\./g, "")
    .replace(/\[(?![hms]+\])[^\]]*\]/gi, "");
  return /[dmyhs]/i.test(bare) && !/^general$/i.test(bare.trim());
}

/** An Excel date serial as ISO text: `2023-06-30`, `2023-06-30 14:05`, or `14:05:00` for a time. */
function formatDate(serial: number, date1904: boolean): string {
  const ms = Math.round((serial + (date1904 ? 1462 : 0) - 25569) * 86_400_000);
  const iso = new Date(ms).toISOString();
  if (serial < 1 && serial >= 0) return iso.slice(11, 19);
  return Number.isInteger(serial) ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

function formatNumber(raw: string): string {
  const n = Number(raw);
  return Number.isFinite(n) ? String(Number(n.toPrecision(15))) : raw;
}

interface CellContext {
  sharedStrings: string[];
  dateStyles: Set<number>;
  date1904: boolean;
}

async function readWorksheet(zip: ZipArchive, part: string, ctx: CellContext): Promise<{ rows: SheetRow[]; merges: MergedRange[] }> {
  const rows: SheetRow[] = [];
  const merges: MergedRange[] = [];
  let row: SheetRow | null = null;
  let nextRow = 1;
  let nextCol = 0;
  let cell: { col: number; type: string; style: number; value: string } | null = null;
  let capture = false;
  let phonetic = 0;

  await streamXml(
    await zip.stream(part),
    {
      open(name, attrs) {
        switch (localName(name)) {
          case "row":
            row = { row: attrs.r ? Number(attrs.r) : nextRow, cells: [] };
            nextRow = row.row + 1;
            nextCol = 0;
            break;
          case "c": {
            const col = attrs.r ? columnIndex(attrs.r) : nextCol;
            nextCol = col + 1;
            // Past Excel's last column (XFD) a reference is not Excel's: `ZZZZZZ1` would make a row
            // an array of hundreds of millions of slots.
            cell = col >= 0 && col <= MAX_COLUMN ? { col, type: attrs.t ?? "n", style: Number(attrs.s ?? 0), value: "" } : null;
            break;
          }
          case "v":
            capture = cell !== null;
            break;
          case "rPh":
            phonetic++;
            break;
          case "t":
            capture = cell !== null && cell.type === "inlineStr" && phonetic === 0;
            break;
          case "mergeCell": {
            const [from, to] = (attrs.ref ?? "").split(":");
            if (from && to) {
              const rowOf = (ref: string) => Math.min(Number(ref.replace(/^\D+/, "")), MAX_ROW);
              merges.push({ r1: rowOf(from), c1: Math.min(columnIndex(from), MAX_COLUMN), r2: rowOf(to), c2: Math.min(columnIndex(to), MAX_COLUMN) });
            }
            break;
          }
        }
      },
      close(name) {
        switch (localName(name)) {
          case "v":
          case "t":
            capture = false;
            break;
          case "rPh":
            phonetic--;
            break;
          case "c":
            if (cell && row) {
              const text = cellText(cell, ctx).replace(/\s+/g, " ").trim();
              if (text) row.cells[cell.col] = text;
            }
            cell = null;
            break;
          case "row":
            if (row && row.cells.length > 0) rows.push(row);
            row = null;
            break;
        }
      },
      text(text) {
        if (capture && cell) cell.value += text;
      },
    },
    part,
  );
  return { rows, merges };
}

function cellText(cell: { type: string; style: number; value: string }, ctx: CellContext): string {
  const raw = cell.value;
  if (!raw) return "";
  switch (cell.type) {
    case "s":
      return ctx.sharedStrings[Number(raw)] ?? "";
    case "b":
      return raw === "1" ? "TRUE" : "FALSE";
    case "str":
    case "inlineStr":
    case "e":
      return raw;
    case "d":
      return raw.replace("T", " ").replace(/(:00)?(\.000)?Z?$/, "");
    default: {
      const n = Number(raw);
      if (ctx.dateStyles.has(cell.style) && Number.isFinite(n)) return formatDate(n, ctx.date1904);
      return formatNumber(raw);
    }
  }
}
