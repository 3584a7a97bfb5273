import { describe, expect, it } from "vitest";
import { csvParser } from "../../shared/parsing/csv.parser.ts";
import { htmlToSections } from "../../shared/parsing/html-sections.ts";
import { markdownParser } from "../../shared/parsing/markdown.parser.ts";
import { corpusFile } from "../helpers/corpus.ts";

const limits = { maxPages: 10, maxDecompressedBytes: 1_000_000, ocr: { enabled: false, languages: ["eng"], maxPages: 10 } };

describe("csvParser", () => {
  it("writes each row as header: value pairs, grouped into passages, keeping ragged rows", async () => {
    const parsed = await csvParser.parse(corpusFile("csv/long-sample-with-errors.csv"), limits);
    expect(parsed.sections.length).toBeGreaterThan(1);
    expect(parsed.sections[0]!.heading).toBe("rows 1–20");
    const lines = parsed.sections.flatMap((s) => s.text.split("\n"));
    const dataRows = corpusFile("csv/long-sample-with-errors.csv").toString().split(/\r?\n/).filter((l) => l.trim()).length - 1;
    expect(lines).toHaveLength(dataRows);
    expect(lines[0]).toMatch(/^Segment: 1; Punkt: 1; Breitengrad \(°\): /);
  });

  it("names blank header cells and refuses an empty file", async () => {
    const parsed = await csvParser.parse(Buffer.from("a,,c\n1,2,3\n"), limits);
    expect(parsed.sections[0]!.text).toBe("a: 1; column 2: 2; c: 3");
    await expect(csvParser.parse(Buffer.from("\n\n"), limits)).rejects.toMatchObject({ code: "NO_TEXT" });
  });
});

describe("markdownParser", () => {
  it("splits at headings outside code fences and records the heading path", async () => {
    const md = "# Guide\n\nIntro.\n\n## Install\n\n```sh\n# not a heading\nnpm i\n```\n\n## Use\n\nCall it.\n";
    const parsed = await markdownParser.parse(Buffer.from(md), limits);
    expect(parsed.sections.map((s) => s.heading)).toEqual(["Guide", "Guide > Install", "Guide > Use"]);
    expect(parsed.sections[1]!.text).toContain("# not a heading");
  });
});

describe("htmlToSections", () => {
  it("drops scripts and page chrome, keeps headings, lists and table rows", () => {
    const sections = htmlToSections(`
      <nav>Home | About</nav><script>var x = 1;</script>
      <h1>Title</h1><p>First <b>para</b>.</p>
      <h2>Part</h2><ul><li>one</li><li><p>two</p></li></ul>
      <table><tr><th>k</th><th>v</th></tr><tr><td><p>a</p><p>b</p></td><td>1</td></tr></table>
      <footer>© someone</footer>`);
    expect(sections).toEqual([
      { heading: "Title", text: "First para." },
      { heading: "Title > Part", text: "- one\n\n- two\n\nk | v\n\na b | 1" },
    ]);
  });
});
