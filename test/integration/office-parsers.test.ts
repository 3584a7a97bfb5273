import { readdirSync } from "node:fs";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors/app-error.ts";
import type { Chunk } from "../../shared/parsing/chunker.ts";
import type { DocumentWarning } from "../../shared/parsing/document-parser.ts";
import { detectType, SUPPORTED_MIME_TYPES } from "../../shared/parsing/detect-type.ts";
import { ParsePool, type SandboxLimits } from "../../shared/parsing/sandbox.ts";
import { CORPUS_DIR, corpusFile } from "../helpers/corpus.ts";

// The service's defaults (MAX_PAGES, MAX_DECOMPRESSED_SIZE, PARSE_TIMEOUT_MS, PARSE_MAX_MEMORY_MB).
const limits: SandboxLimits = { timeoutMs: 120_000, maxMemoryMb: 1024, maxPages: 2000, maxDecompressedBytes: 200 * 1024 * 1024, ocr: { enabled: false, languages: ["eng"], maxPages: 10 } };
const chunking = { size: 800, overlap: 200 };
const pool = new ParsePool(limits);
const pools = [pool];
afterAll(() => Promise.all(pools.map((p) => p.close())));

type Outcome = { chunks: Chunk[]; text: string; pageCount: number | null; title?: string; warnings?: DocumentWarning[] } | { code: string; message: string };

async function parse(bytes: Buffer, name: string, overrides?: Partial<SandboxLimits>): Promise<Outcome> {
  const mime = await detectType(bytes, name);
  expect(SUPPORTED_MIME_TYPES).toContain(mime);
  let p = pool;
  if (overrides) {
    p = new ParsePool({ ...limits, ...overrides });
    pools.push(p);
  }
  try {
    const parsed = await p.parse(bytes, mime, chunking);
    return { ...parsed, text: parsed.chunks.map((c) => c.text).join("\n\n") };
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, message: err.message };
    throw err;
  }
}

const outcome = (file: string, overrides?: Partial<SandboxLimits>) => parse(corpusFile(file), file, overrides);

function ok(result: Outcome) {
  if ("code" in result) throw new Error(`expected text, got ${result.code}: ${result.message}`);
  return result;
}

describe("every corpus file of the new kinds parses to its text or fails with its code", () => {
  const files = ["xlsx", "doc", "pptx", "rtf", "epub"].flatMap((dir) => readdirSync(`${CORPUS_DIR}/${dir}`).map((f) => `${dir}/${f}`));
  const expected: Record<string, string[] | { code: string }> = {
    "xlsx/2023-half-year-analyses-by-segment.xlsx": ["Revenue and results", "In millions of CHF", "46293"],
    "xlsx/example_password.xlsx": { code: "DOCUMENT_ENCRYPTED" },
    "xlsx/large_strings.xlsx": ["abandonment"],
    "xlsx/test-issue-877.xlsx": { code: "NO_TEXT" },
    "xlsx/test.ods": ["Demonstration of DOCX support in calibre", "Books | 1"],
    "xlsx/text_and_numbers.xlsx": ["Hello: שלום", "World: עולם", "13.37"],
    "doc/badfile-01-bad-header.doc": { code: "DOCUMENT_CORRUPT" },
    "doc/test05.doc": ["This is a simple file created with Word 97-SR2."],
    "doc/test12.doc": ["This is a simple paragraph", "Row 1, cell 1\tRow 1, cell 2\tRow 1, cell 3", "And a second paragraph"],
    "pptx/sample-presentation.pptx": ["Title Slide", "This one is a sub-sub-bullet", "Table | A | B | C"],
    "pptx/test.pptx": ["Demonstration of DOCX support in calibre", "Slide Note 1.", "December 2007"],
    "rtf/eng_spa_mult.rtf": ["All human beings are born free and equal in dignity and rights.", "dotados como están de razón y conciencia"],
    "epub/winter-sports.epub": ["Title: Winter Sports in Switzerland", "There is an amazingly silly proverb"],
  };

  it("covers every file in the corpus folders", () => {
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(files)("%s", async (file) => {
    const result = await outcome(file);
    const want = expected[file]!;
    if ("code" in want) {
      expect(result).toMatchObject({ code: want.code });
    } else {
      const { text } = ok(result);
      for (const snippet of want) expect(text).toContain(snippet);
      expect(text).not.toMatch(/<\/?[a-z]+:[a-z]+|\\[a-z]+\d*\s/i); // no XML or RTF markup left over
    }
  });
});

describe("spreadsheets", () => {
  it("cites Nestlé's five sheets by name and reads a SUM by its cached value", async () => {
    const { chunks } = ok(await outcome("xlsx/2023-half-year-analyses-by-segment.xlsx"));
    expect([...new Set(chunks.map((c) => c.sheet))]).toEqual([
      "OS-Rev.and results 30 06 2023",
      "OS-Other information 30 06 2023",
      "Prod.Rev.and results 30 06 2023",
      "Prod.-Other inform. 30 06 23",
      "Reconciliation 30 06 2023",
    ]);
    // =SUM(B9:B17) → 46293, the 2022 total sales beside the 2023 one.
    const total = chunks.find((c) => c.text.includes("46293"))!;
    expect(total.sheet).toBe("OS-Rev.and results 30 06 2023");
    expect(total.text).toMatch(/Total; Sales \(a\): 46293/);
    // Rows read as `header: value` pairs under the header row, its line breaks folded.
    expect(chunks[0]!.text).toContain("Zone NA; Sales (a): 12553; Underlying Trading operating profit (b): 2713");
    expect(chunks[0]!.heading).toMatch(/^rows 1–\d+$/);
  });

  it("ends a workbook whose text is all in hidden sheets NO_TEXT, naming them", async () => {
    const result = await outcome("xlsx/test-issue-877.xlsx");
    expect(result).toMatchObject({ code: "NO_TEXT", message: expect.stringContaining("hidden sheets") });
    for (const sheet of ["Ersatzteilliste", "Leiterprüfung", "Feststellanlagen", "Schweißgerät"]) expect((result as { message: string }).message).toContain(sheet);
  });

  it("skips hidden and veryHidden sheets with a HIDDEN_SHEETS_SKIPPED warning, and names merged header columns", async () => {
    const result = ok(await parse(workbook(), "made.xlsx"));
    expect(result.warnings).toEqual([{ code: "HIDDEN_SHEETS_SKIPPED", message: expect.stringMatching(/2 hidden sheets were skipped: "Secret", "Deep"/) }]);
    expect(result.text).not.toContain("classified");
    expect(result.chunks.every((c) => c.sheet === "Visible")).toBe(true);
    // The header "Amount" is merged across B1:C1; the date is a serial with a date format.
    expect(result.text).toContain("Item: Rent; Amount: 1200; Amount: 100; Due: 2024-03-01");
  });

  it("reads Hebrew text and skips empty sheets", async () => {
    const { chunks } = ok(await outcome("xlsx/text_and_numbers.xlsx"));
    expect(chunks.map((c) => c.sheet)).toEqual(["Sheet1"]);
    expect(chunks[0]!.text).toBe("English: Hebrew; Hello: שלום; World: עולם\nEnglish: 1337; Hello: 13.37; World: 1337");
  });

  it("parses large_strings.xlsx (60 MB unzipped) within the default limits, splitting its 10,000-char cells", async () => {
    const { chunks } = ok(await outcome("xlsx/large_strings.xlsx"));
    expect(new Set(chunks.map((c) => c.sheet))).toEqual(new Set(["Large Strings", "Simple", "longwordslist"]));
    expect(Math.max(...chunks.map((c) => c.tokenCount))).toBeLessThanOrEqual(chunking.size);
    expect(chunks.length).toBeGreaterThan(5_000);
  }, 120_000);

  it("refuses large_strings.xlsx with DOCUMENT_TOO_LARGE when MAX_DECOMPRESSED_SIZE is below its 60 MB", async () => {
    expect(await outcome("xlsx/large_strings.xlsx", { maxDecompressedBytes: 50 * 1024 * 1024 })).toMatchObject({ code: "DOCUMENT_TOO_LARGE" });
  });

  it("ends a password-protected workbook DOCUMENT_ENCRYPTED", async () => {
    expect(await outcome("xlsx/example_password.xlsx")).toMatchObject({ code: "DOCUMENT_ENCRYPTED", message: expect.stringContaining("password") });
  });

  it("cites each ODS table by name", async () => {
    const { chunks } = ok(await outcome("xlsx/test.ods"));
    expect([...new Set(chunks.map((c) => c.sheet))]).toEqual(["Sheet1", "Sheet2", "Sheet3", "Sheet4", "Sheet5", "Sheet6", "Sheet7", "Sheet8", "Chart_Sheet"]);
    expect(chunks.find((c) => c.text.includes("Pencils | 2"))?.sheet).toBe("Sheet3");
  });
});

describe("Word 97–2003", () => {
  it("keeps a table's rows as lines of tab-separated cells, the empty cell included", async () => {
    const { text } = ok(await outcome("doc/test12.doc"));
    expect(text).toBe("This is a simple paragraph\n\nRow 1, cell 1\tRow 1, cell 2\tRow 1, cell 3\nRow 2, cell 1\t\tRow 2, cell 3\n\nAnd a second paragraph");
  });

  it("ends a corrupt container DOCUMENT_CORRUPT", async () => {
    expect(await outcome("doc/badfile-01-bad-header.doc")).toMatchObject({ code: "DOCUMENT_CORRUPT" });
  });

  it("ends an encrypted .doc (FIB fEncrypted) DOCUMENT_ENCRYPTED", async () => {
    const bytes = Buffer.from(corpusFile("doc/test05.doc"));
    const fib = bytes.indexOf(Buffer.from([0xec, 0xa5, 0xc1, 0x00]));
    expect(fib % 512).toBe(0);
    bytes[fib + 11]! |= 0x01;
    expect(await parse(bytes, "locked.doc")).toMatchObject({ code: "DOCUMENT_ENCRYPTED" });
  });
});

describe("slides", () => {
  it("gives one section per slide in presentation order, title first, the table on slide 4", async () => {
    const { chunks, pageCount } = ok(await outcome("pptx/sample-presentation.pptx"));
    expect(pageCount).toBe(4);
    expect(chunks.map((c) => [c.slide, c.heading])).toEqual([
      [1, "Title Slide"],
      [2, "This is the first content slide"],
      [3, "This is the second content slide"],
      [4, "This is kinda backwards, huh?"],
    ]);
    expect(chunks[1]!.text).toContain("- And a list of bulleted information\n  - With a sub-bullet\n  - And another one\n    - This one is a sub-sub-bullet");
    expect(chunks[3]!.text).toBe("This is kinda backwards, huh?\n\nTable | A | B | C\n1 | A1 | B1 | C1\n2 | A2 | B2 | C2");
  });

  it("puts speaker notes on their own slide, after the slide's text", async () => {
    const { chunks } = ok(await outcome("pptx/test.pptx"));
    const slideOf = (snippet: string) => chunks.filter((c) => c.text.includes(snippet)).map((c) => c.slide);
    expect(slideOf("Slide Note 1.")).toEqual([1]);
    expect(slideOf("Notes: Slide Note 2. This is a bold text, but no italic. Let's strike that out.")).toEqual([2]);
    expect(slideOf("And then about tables")).toEqual([3]);
    expect(slideOf("Now calendars")).toEqual([5]);
    expect(chunks.find((c) => c.slide === 9)?.text).toContain("Series 1: Category 1 = 4.3; Category 2 = 2.5");
    expect([...new Set(chunks.map((c) => c.slide))]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe("hostile spreadsheets and RTF", () => {
  it("ignores cells and merges past Excel's last column instead of allocating for them", async () => {
    const started = performance.now();
    const result = await parse(workbook({ extra: `<c r="ZZZZZZ1" t="inlineStr"><is><t>far away</t></is></c>`, merge: "A1:ZZZZZZZ1048576" }), "far.xlsx");
    const { text } = ok(result);
    expect(text).toContain("Rent");
    expect(text).not.toContain("far away");
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it("reads a worksheet once however many sheet entries point to it", async () => {
    const { text } = ok(await parse(workbook({ copies: 500 }), "copies.xlsx"));
    expect(text.match(/Rent/g)).toHaveLength(1);
  });

  it("reads an EPUB's chapter file once however often its spine lists it", async () => {
    const epub = storedZip({
      mimetype: "application/epub+zip",
      "META-INF/container.xml": `<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>`,
      "OEBPS/content.opf": `<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Echo</dc:title></metadata><manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest><spine>${'<itemref idref="c1"/>'.repeat(500)}</spine></package>`,
      "OEBPS/c1.xhtml": `<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body><h1>One</h1><p>The only chapter, read once.</p></body></html>`,
    });
    const { text } = ok(await parse(epub, "echo.epub"));
    expect(text.match(/read once/g)).toHaveLength(1);
  });

  it("reads an RTF whose \\bin count is negative instead of looping over the same bytes", async () => {
    const { text } = ok(await parse(Buffer.from("{\\rtf1\\ansi hello \\bin-20 world}"), "loop.rtf"));
    expect(text).toContain("hello");
  });
});

describe("RTF and EPUB", () => {
  it("decodes RTF's \\'xx escapes in its code page and leaves out its font and style tables", async () => {
    const { text } = ok(await outcome("rtf/eng_spa_mult.rtf"));
    expect(text.startsWith("All human beings are born free")).toBe(true);
    expect(text).toContain("razón y conciencia");
    expect(text).not.toMatch(/Times New Roman|heading 1|Normal;/);
  });

  it("reads an EPUB's chapters in spine order, each headed by its chapter", async () => {
    const { chunks, title } = ok(await outcome("epub/winter-sports.epub"));
    expect(title).toBe("Winter Sports in Switzerland");
    const chapters = [...new Set(chunks.map((c) => /CHAPTER [IVX]+ [^>]+/.exec(c.heading ?? "")?.[0].trim()).filter(Boolean))];
    expect(chapters).toEqual([
      "CHAPTER I THE SUN-SEEKER",
      "CHAPTER II RINKS AND SKATERS",
      "CHAPTER III TEES AND CRAMPITS",
      "CHAPTER IV TOBOGGANING",
      "CHAPTER V ICE-HOCKEY",
      "CHAPTER VI SKI-ING",
      "CHAPTER VII NOTES ON WINTER RESORTS",
      "CHAPTER VIII FOR PARENTS AND GUARDIANS",
    ]);
  });
});

/** A zip of stored (uncompressed) entries: enough to write a small workbook without a zip library. */
function storedZip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    const fileName = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, data);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A workbook with one visible sheet (a merged header, a date) and a hidden and a veryHidden one; `extra` cells end its first row, `merge` replaces its merged range. */
function workbook(options: { extra?: string; merge?: string; copies?: number } = {}): Buffer {
  const ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"';
  const rel = (id: string, type: string, target: string) => `<Relationship Id="${id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/${type}" Target="${target}"/>`;
  const sheet = (rows: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><worksheet ${ns}><sheetData>${rows}</sheetData><mergeCells count="1"><mergeCell ref="${options.merge ?? "B1:C1"}"/></mergeCells></worksheet>`;
  return storedZip({
    "[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>`,
    "_rels/.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${rel("rId1", "officeDocument", "xl/workbook.xml")}</Relationships>`,
    "xl/workbook.xml": `<?xml version="1.0" encoding="UTF-8"?><workbook ${ns}><sheets><sheet name="Visible" sheetId="1" r:id="rId1"/><sheet name="Secret" sheetId="2" state="hidden" r:id="rId2"/><sheet name="Deep" sheetId="3" state="veryHidden" r:id="rId3"/>${Array.from({ length: options.copies ?? 0 }, (_, i) => `<sheet name="Copy ${i}" sheetId="${10 + i}" r:id="rId1"/>`).join("")}</sheets></workbook>`,
    "xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${rel("rId1", "worksheet", "worksheets/sheet1.xml")}${rel("rId2", "worksheet", "worksheets/sheet2.xml")}${rel("rId3", "worksheet", "/xl/worksheets/sheet3.xml")}${rel("rId4", "styles", "styles.xml")}</Relationships>`,
    "xl/styles.xml": `<?xml version="1.0" encoding="UTF-8"?><styleSheet ${ns}><numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>`,
    "xl/worksheets/sheet1.xml": sheet(
      `<row r="1"><c r="A1" t="inlineStr"><is><t>Item</t></is></c><c r="B1" t="inlineStr"><is><t>Amount</t></is></c><c r="D1" t="inlineStr"><is><t>Due</t></is></c>${options.extra ?? ""}</row>` +
        `<row r="2"><c r="A2" t="inlineStr"><is><t>Rent</t></is></c><c r="B2"><v>1200</v></c><c r="C2"><f>B2/12</f><v>100</v></c><c r="D2" s="1"><v>45352</v></c></row>`,
    ),
    "xl/worksheets/sheet2.xml": sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>classified</t></is></c><c r="B1" t="inlineStr"><is><t>classified too</t></is></c></row>`),
    "xl/worksheets/sheet3.xml": sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>classified</t></is></c></row>`),
  });
}
