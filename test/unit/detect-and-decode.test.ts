import { describe, expect, it } from "vitest";
import { decodeText, looksLikeText } from "../../shared/parsing/decode-text.ts";
import { detectType } from "../../shared/parsing/detect-type.ts";
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
