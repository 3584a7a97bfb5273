import { describe, expect, it } from "vitest";
import { chunkSections } from "../../shared/parsing/chunker.ts";
import { countTokens } from "../../shared/parsing/tokenizer.ts";
import { corpusFile } from "../helpers/corpus.ts";

const NEWS = corpusFile("text/NEWS").toString("utf8");

describe("chunkSections", () => {
  it("keeps a short text in one chunk", () => {
    const chunks = chunkSections([{ text: "One paragraph.\n\nAnother one." }], { size: 800, overlap: 200 });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe("One paragraph.\n\nAnother one.");
    expect(chunks[0]!.tokenCount).toBeGreaterThan(4);
  });

  it("returns no chunks for blank input", () => {
    expect(chunkSections([{ text: "  \n\n \n" }], { size: 100, overlap: 10 })).toEqual([]);
  });

  it("never exceeds the token budget on a real changelog", () => {
    const chunks = chunkSections([{ text: NEWS }], { size: 200, overlap: 50 });
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) expect(countTokens(chunk.text)).toBeLessThanOrEqual(200);
  });

  it("loses no text: every paragraph of the input appears in some chunk", () => {
    const chunks = chunkSections([{ text: NEWS }], { size: 200, overlap: 50 });
    const joined = chunks.map((c) => c.text).join("\n");
    for (const paragraph of NEWS.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean)) {
      for (const sentence of paragraph.split("\n").slice(0, 1)) expect(joined).toContain(sentence.trim());
    }
  });

  it("repeats the end of one chunk at the start of the next, within the overlap", () => {
    const paragraphs = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} talks about topic ${i} in a few words.`);
    const chunks = chunkSections([{ text: paragraphs.join("\n\n") }], { size: 60, overlap: 20 });
    expect(chunks.length).toBeGreaterThan(3);
    for (let i = 1; i < chunks.length; i++) {
      const previousLast = chunks[i - 1]!.text.split("\n\n").at(-1)!;
      expect(chunks[i]!.text.startsWith(previousLast)).toBe(true);
    }
  });

  it("splits a sentence longer than a chunk, including unspaced CJK text", () => {
    const japanese = "日本語のテキストは単語の間に空白がありません".repeat(60);
    const chunks = chunkSections([{ text: japanese }], { size: 100, overlap: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(countTokens(chunk.text)).toBeLessThanOrEqual(100);
    expect(chunks.map((c) => c.text).join("")).toBe(japanese);
  });

  it("carries the page and heading of where each chunk starts", () => {
    const chunks = chunkSections(
      [
        { text: "First page text. ".repeat(30), page: 1, heading: "Intro" },
        { text: "Second page text. ".repeat(30), page: 2, heading: "Body" },
      ],
      { size: 80, overlap: 0 },
    );
    expect(chunks[0]).toMatchObject({ page: 1, heading: "Intro" });
    expect(chunks.at(-1)).toMatchObject({ page: 2, heading: "Body" });
  });
});
