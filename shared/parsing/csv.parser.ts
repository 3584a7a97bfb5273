import Papa from "papaparse";
import { permanent } from "../errors/app-error.ts";
import type { Section } from "./chunker.ts";
import { decodeText } from "./decode-text.ts";
import type { DocumentParser, ParsedDocument } from "./document-parser.ts";
import { formatRow, ROWS_PER_PASSAGE } from "./row-format.ts";

/**
 * CSV in any common encoding (Shift-JIS, UTF-8 with BOM …). Each passage holds a group of rows,
 * every row written as `header: value` pairs so a passage makes sense on its own; rows with the
 * wrong number of fields are kept (missing values are left out, extra ones numbered).
 */
export const csvParser: DocumentParser = {
  async parse(content): Promise<ParsedDocument> {
    const { text } = decodeText(content);
    const parsed = Papa.parse<string[]>(text.trim(), { skipEmptyLines: "greedy" });
    const [header, ...rows] = parsed.data;
    if (!header || header.every((h) => !h.trim())) throw permanent("NO_TEXT", "the CSV is empty");
    const names = header.map((h, i) => h.trim() || `column ${i + 1}`);
    if (rows.length === 0) return { sections: [{ text: names.join(", "), heading: null }], pageCount: null };
    const sections: Section[] = [];
    for (let start = 0; start < rows.length; start += ROWS_PER_PASSAGE) {
      const group = rows.slice(start, start + ROWS_PER_PASSAGE).map((row) => formatRow(names, row, (i) => `column ${i + 1}`));
      sections.push({ text: group.filter(Boolean).join("\n"), heading: `rows ${start + 1}–${start + group.length}` });
    }
    return { sections: sections.filter((s) => s.text), pageCount: null };
  },
};
