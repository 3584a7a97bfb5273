import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { type MergedRange, type SheetRow, sheetsOutcome, sheetToSections } from "./sheet-sections.ts";
import { streamXml } from "./xml.ts";
import { openZip } from "./zip-guard.ts";

/** Repeated cells or rows that hold a value are written out at most this many times (a styled column runs to 16,384). */
const MAX_REPEAT = 1_000;

/**
 * OpenDocument spreadsheets (.ods): `content.xml` streamed, one passage group per visible table,
 * the same row layout and citations as XLSX. Cells are read by their display text (`text:p`, the
 * value as the producing program formatted it, formulas included); a cell spanning several columns
 * or rows gives its value once. Tables hidden by their style (`table:display="false"`) are
 * skipped and named in a HIDDEN_SHEETS_SKIPPED warning.
 */
export const odsParser: DocumentParser = {
  async parse(content, limits): Promise<ParsedDocument> {
    const zip = await openZip(content, limits.maxDecompressedBytes);
    try {
      if (!zip.has("content.xml")) throw permanent("DOCUMENT_CORRUPT", "the file is a zip archive but not an OpenDocument spreadsheet (no content.xml)");
      const hiddenStyles = new Set<string>();
      const sections: Section[] = [];
      const hidden: string[] = [];
      let visible = 0;

      let styleName: string | null = null;
      let table: { name: string; hidden: boolean; rows: SheetRow[]; merges: MergedRange[] } | null = null;
      let row: { cells: string[]; repeat: number } | null = null;
      let rowNumber = 0;
      let col = 0;
      let cell: { text: string; value: string; repeat: number; paragraphs: number } | null = null;
      let paragraphDepth = 0;
      let noteDepth = 0;

      await streamXml(
        await zip.stream("content.xml"),
        {
          open(name, a) {
            switch (name) {
              case "style:style":
                styleName = a["style:family"] === "table" ? (a["style:name"] ?? null) : null;
                break;
              case "style:table-properties":
                if (styleName && a["table:display"] === "false") hiddenStyles.add(styleName);
                break;
              case "table:table": {
                const tableName = a["table:name"] ?? "";
                table = { name: tableName, hidden: hiddenStyles.has(a["table:style-name"] ?? ""), rows: [], merges: [] };
                rowNumber = 0;
                break;
              }
              case "table:table-row":
                row = { cells: [], repeat: Math.max(1, Number(a["table:number-rows-repeated"] ?? 1)) };
                col = 0;
                break;
              case "table:table-cell":
              case "table:covered-table-cell": {
                const repeat = Math.max(1, Number(a["table:number-columns-repeated"] ?? 1));
                const colSpan = Number(a["table:number-columns-spanned"] ?? 1);
                const rowSpan = Number(a["table:number-rows-spanned"] ?? 1);
                if (table && (colSpan > 1 || rowSpan > 1)) table.merges.push({ r1: rowNumber + 1, c1: col, r2: rowNumber + rowSpan, c2: col + colSpan - 1 });
                const value = a["office:value"] ?? a["office:date-value"] ?? a["office:time-value"] ?? a["office:boolean-value"] ?? a["office:string-value"] ?? "";
                cell = name === "table:table-cell" ? { text: "", value, repeat, paragraphs: 0 } : null;
                if (!cell) col += repeat;
                break;
              }
              case "text:p":
              case "text:h":
                if (cell && noteDepth === 0) {
                  if (cell.paragraphs++ > 0) cell.text += " ";
                  paragraphDepth++;
                }
                break;
              case "office:annotation":
                noteDepth++;
                break;
              case "text:s":
                if (cell && paragraphDepth > 0) cell.text += " ".repeat(Math.min(100, Number(a["text:c"] ?? 1)));
                break;
              case "text:tab":
              case "text:line-break":
                if (cell && paragraphDepth > 0) cell.text += " ";
                break;
            }
          },
          close(name) {
            switch (name) {
              case "style:style":
                styleName = null;
                break;
              case "text:p":
              case "text:h":
                if (paragraphDepth > 0) paragraphDepth--;
                break;
              case "office:annotation":
                noteDepth--;
                break;
              case "table:table-cell":
                if (cell && row) {
                  const text = (cell.text || cell.value).replace(/\s+/g, " ").trim();
                  const times = text ? Math.min(cell.repeat, MAX_REPEAT) : 0;
                  for (let i = 0; i < times; i++) row.cells[col + i] = text;
                  col += cell.repeat;
                }
                cell = null;
                break;
              case "table:table-row":
                if (table && row) {
                  const times = row.cells.length > 0 ? Math.min(row.repeat, MAX_REPEAT) : 0;
                  for (let i = 0; i < times; i++) table.rows.push({ row: rowNumber + 1 + i, cells: row.cells });
                  rowNumber += row.repeat;
                }
                row = null;
                break;
              case "table:table":
                if (table) {
                  if (table.hidden) hidden.push(table.name);
                  else {
                    visible++;
                    sections.push(...sheetToSections(table.name, table.rows, table.merges));
                  }
                }
                table = null;
                break;
            }
          },
          text(text) {
            if (cell && paragraphDepth > 0 && noteDepth === 0) cell.text += text;
          },
        },
        "content.xml",
      );
      return sheetsOutcome(sections, hidden, visible);
    } finally {
      zip.close();
    }
  },
};
