import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import type { DocumentWarning, ParsedDocument } from "./document-parser.ts";
import { formatRow, ROWS_PER_PASSAGE } from "./row-format.ts";

/** A worksheet row: its 1-based number and its cells' display text by 0-based column (sparse). */
export interface SheetRow {
  row: number;
  cells: string[];
}

/** A merged range, rows 1-based and columns 0-based, inclusive. */
export interface MergedRange {
  r1: number;
  c1: number;
  r2: number;
  c2: number;
}

/** `0` → `A`, `27` → `AB`. */
export function columnLetter(index: number): string {
  let name = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

/** `AB12` → 27 (the 0-based column of a cell reference). */
export function columnIndex(ref: string): number {
  let n = 0;
  for (const ch of ref.toUpperCase()) {
    const code = ch.charCodeAt(0);
    if (code < 65 || code > 90) break;
    n = n * 26 + (code - 64);
  }
  return n - 1;
}

const filled = (row: SheetRow) => row.cells.filter((c) => c?.trim()).length;
const NUMERIC = /^[-+(]?[\d.,\s%]+\)?$/;

/**
 * A sheet's rows as passages: each row written as `header: value` pairs (like CSV), groups of
 * {@link ROWS_PER_PASSAGE} rows per section, every section carrying the sheet name and its row
 * range. The header row is the widest of the first ten rows that has two or more cells and no
 * numbers; rows above it (titles, notes) are written as plain text, `a | b`, and a column with no
 * header gives its value alone (often the row's label). A merged header cell names
 * every column it spans; elsewhere a merged value appears once, in its top-left cell (where the
 * file stores it).
 */
export function sheetToSections(sheet: string, rows: SheetRow[], merges: MergedRange[] = []): Section[] {
  const nonEmpty = rows.filter((r) => filled(r) > 0);
  if (nonEmpty.length === 0) return [];
  let headerAt = -1;
  nonEmpty.slice(0, 10).forEach((r, i) => {
    const isHeader = filled(r) >= 2 && r.cells.every((c) => !c?.trim() || !NUMERIC.test(c.trim()));
    if (isHeader && (headerAt < 0 || filled(r) > filled(nonEmpty[headerAt]!))) headerAt = i;
  });
  const header = headerAt >= 0 ? nonEmpty[headerAt]! : undefined;
  const names: string[] = header ? header.cells.map((c) => c?.trim() ?? "") : [];
  if (header) {
    const byRow = new Map(rows.map((r) => [r.row, r]));
    for (const m of merges) {
      if (m.r1 > header.row || m.r2 < header.row) continue;
      const anchor = byRow.get(m.r1)?.cells[m.c1]?.trim();
      if (!anchor) continue;
      for (let c = m.c1; c <= m.c2; c++) if (!names[c]) names[c] = anchor;
    }
  }
    const lines: Array<{ row: number; text: string }> = [];
  nonEmpty.forEach((r, i) => {
    if (header && i === headerAt) return;
    const text = header && i > headerAt ? formatRow(names, r.cells, () => "") : r.cells.filter((c) => c?.trim()).map((c) => c.trim()).join(" | ");
    if (text) lines.push({ row: r.row, text });
  });
  if (lines.length === 0 && header) lines.push({ row: header.row, text: names.filter(Boolean).join(", ") });
  const sections: Section[] = [];
  for (let start = 0; start < lines.length; start += ROWS_PER_PASSAGE) {
    const group = lines.slice(start, start + ROWS_PER_PASSAGE);
    const first = group[0]!.row;
    const last = group.at(-1)!.row;
    sections.push({ text: group.map((l) => l.text).join("\n"), heading: first === last ? `row ${first}` : `rows ${first}–${last}`, sheet });
  }
  return sections;
}

/**
 * The parse result of a workbook: its sections, and a HIDDEN_SHEETS_SKIPPED warning naming the
 * hidden sheets left out. NO_TEXT when nothing visible holds a value (saying so when hidden
 * sheets were skipped, since that is where the text must be).
 */
export function sheetsOutcome(sections: Section[], hidden: string[], visible: number): ParsedDocument {
  const names = hidden.map((n) => `"${n}"`).join(", ");
  if (sections.length === 0) {
    if (hidden.length > 0) {
      throw permanent(
        "NO_TEXT",
        `the workbook's visible sheets hold no text (${visible} visible); its text is in hidden sheets, which are not indexed: ${names}. Unhide them and upload again`,
      );
    }
    throw permanent("NO_TEXT", "the workbook has no cell values");
  }
  const warnings: DocumentWarning[] =
    hidden.length > 0 ? [{ code: "HIDDEN_SHEETS_SKIPPED", message: `${hidden.length} hidden sheet${hidden.length === 1 ? " was" : "s were"} skipped: ${names}` }] : [];
  return { sections, pageCount: null, ...(warnings.length > 0 ? { warnings } : {}) };
}
