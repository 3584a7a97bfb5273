import { describe, expect, it } from "vitest";
import { decodeText, looksLikeText } from "../../shared/parsing/decode-text.ts";
import { assertSupportedType, detectType, SUPPORTED_FORMATS } from "../../shared/parsing/detect-type.ts";
import { corpusFile } from "../helpers/corpus.ts";

describe("detectType", () => {
  it.each([
    ["pdf/tracemonkey.pdf", "application/pdf"],
    ["docx/tables.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
    ["docx/empty.zip", "application/zip"],
    ["html/qq/source.html", "text/html"],
    ["markdown/README.md", "text/markdown"],
    ["csv/long-sample-with-errors.csv", "text/csv"],
  ])("%s is %s by its bytes", async (file, mime) => {
    expect(await detectType(corpusFile(file))).toBe(mime);
  });

  it("ignores a lying file name for binary formats", async () => {
    expect(await detectType(corpusFile("pdf/tracemonkey.pdf"), "report.docx")).toBe("application/pdf");
  });

  it("uses the name only to tell text formats apart", async () => {
    expect(await detectType(Buffer.from("just a few words"), "notes.md")).toBe("text/markdown");
    expect(await detectType(Buffer.from("just a few words"), "notes.txt")).toBe("text/plain");
    expect(await detectType(corpusFile("csv/sjis-sample.csv"), "sjis-sample.csv")).toBe("text/csv");
  });

  it("calls unknown binary octet-stream", async () => {
    expect(await detectType(Buffer.from([0, 1, 2, 3, 0, 255, 0]))).toBe("application/octet-stream");
  });
});

describe("decodeText", () => {
  it("reads Shift-JIS that is not UTF-8", () => {
    expect(decodeText(corpusFile("csv/sjis-sample.csv")).text).toContain("コントロールカラム");
  });

  it("drops a UTF-8 byte-order mark", () => {
    expect(decodeText(corpusFile("csv/utf-8-bom-sample.csv")).text.startsWith("A,B,C")).toBe(true);
  });

  it("believes valid UTF-8 bytes over a declared charset", () => {
    const utf8 = Buffer.from("谷歌 DeepMind", "utf8");
    expect(decodeText(utf8, "gb2312")).toEqual({ text: "谷歌 DeepMind", encoding: "utf-8" });
  });

  it("uses the declared charset when the bytes are not UTF-8", () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    expect(decodeText(latin1, "iso-8859-1").text).toBe("café");
  });

  it("tells text from binary", () => {
    expect(looksLikeText(Buffer.from("hello\nworld\t!"))).toBe(true);
    expect(looksLikeText(corpusFile("pdf/bug1020226.pdf").subarray(0, 0))).toBe(true);
    expect(looksLikeText(Buffer.from([104, 0, 105]))).toBe(false);
  });
});

describe("detectType for office, e-book and RTF files", () => {
  it.each([
    ["xlsx/2023-half-year-analyses-by-segment.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
    ["xlsx/large_strings.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
    ["xlsx/test-issue-877.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
    ["xlsx/text_and_numbers.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
    ["xlsx/test.ods", "application/vnd.oasis.opendocument.spreadsheet"],
    // A CFB container like a .doc, but its directory holds an encrypted OOXML package.
    ["xlsx/example_password.xlsx", "application/x-encrypted-ooxml"],
    ["doc/test05.doc", "application/msword"],
    ["doc/test12.doc", "application/msword"],
    // Its sector tables are broken: taken for a .doc, whose parser says DOCUMENT_CORRUPT.
    ["doc/badfile-01-bad-header.doc", "application/msword"],
    ["pptx/sample-presentation.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"],
    ["pptx/test.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"],
    ["rtf/eng_spa_mult.rtf", "application/rtf"],
    ["epub/winter-sports.epub", "application/epub+zip"],
  ])("%s is %s by its bytes", async (file, mime) => {
    expect(await detectType(corpusFile(file), "upload.bin")).toBe(mime);
  });

  /** test05.doc with its WordDocument stream renamed, as an Excel or PowerPoint 97 file names its main stream. */
  function renamedMainStream(name: string): Buffer {
    const bytes = Buffer.from(corpusFile("doc/test05.doc"));
    const at = bytes.indexOf(Buffer.from("WordDocument\0", "utf16le"));
    bytes.fill(0, at, at + 64);
    bytes.write(`${name}\0`, at, "utf16le");
    bytes.writeUInt16LE((name.length + 1) * 2, at + 0x40);
    return bytes;
  }

  it("names Excel and PowerPoint 97–2003 files by their main stream, so they are refused with 415", async () => {
    expect(await detectType(renamedMainStream("Workbook"))).toBe("application/vnd.ms-excel");
    expect(await detectType(renamedMainStream("PowerPoint Document"))).toBe("application/vnd.ms-powerpoint");
    expect(() => assertSupportedType("application/vnd.ms-excel")).toThrow(/not supported \(supported: PDF, .*Excel \(XLSX\)/);
  });

  it("accepts a password-protected OOXML file at upload, so that it can fail with DOCUMENT_ENCRYPTED", () => {
    expect(() => assertSupportedType("application/x-encrypted-ooxml")).not.toThrow();
    expect(SUPPORTED_FORMATS).not.toMatch(/encrypted/i);
  });
});
