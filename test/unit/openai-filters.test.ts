import { describe, expect, it } from "vitest";
import { attributeFilter, comparisonFilter, matchesAttributes, type AttributeFilter } from "../../shared/openai-compat/filters.ts";

const eq = (key: string, value: string | number | boolean): AttributeFilter => ({ type: "eq", key, value });
const cmp = (type: "eq" | "ne" | "gt" | "gte" | "lt" | "lte", key: string, value: string | number | boolean): AttributeFilter => ({ type, key, value });
const and = (...filters: AttributeFilter[]): AttributeFilter => ({ type: "and", filters });
const or = (...filters: AttributeFilter[]): AttributeFilter => ({ type: "or", filters });

const FILE = { team: "b", year: 2021, score: 0.5, draft: false, title: "Zebra", empty: "", zero: 0, nothing: null };

describe("matchesAttributes: comparisons", () => {
  it("eq and ne compare by value and type (no coercion)", () => {
    expect(matchesAttributes(eq("team", "b"), FILE)).toBe(true);
    expect(matchesAttributes(eq("team", "B"), FILE)).toBe(false);
    expect(matchesAttributes(eq("year", 2021), FILE)).toBe(true);
    expect(matchesAttributes(eq("year", "2021"), FILE)).toBe(false);
    expect(matchesAttributes(eq("year", 2021.0), FILE)).toBe(true);
    expect(matchesAttributes(eq("draft", false), FILE)).toBe(true);
    expect(matchesAttributes(eq("draft", 0), FILE)).toBe(false);
    expect(matchesAttributes(eq("zero", false), FILE)).toBe(false);
    expect(matchesAttributes(eq("empty", ""), FILE)).toBe(true);
    expect(matchesAttributes(cmp("ne", "team", "a"), FILE)).toBe(true);
    expect(matchesAttributes(cmp("ne", "team", "b"), FILE)).toBe(false);
    expect(matchesAttributes(cmp("ne", "year", "2021"), FILE)).toBe(true);
    expect(matchesAttributes(cmp("ne", "draft", true), FILE)).toBe(true);
  });

  it("gt, gte, lt and lte order numbers by value", () => {
    const cases: Array<[AttributeFilter, boolean]> = [
      [cmp("gt", "year", 2020), true],
      [cmp("gt", "year", 2021), false],
      [cmp("gte", "year", 2021), true],
      [cmp("gte", "year", 2022), false],
      [cmp("lt", "year", 2022), true],
      [cmp("lt", "year", 2021), false],
      [cmp("lte", "year", 2021), true],
      [cmp("lte", "year", 2020), false],
      [cmp("gt", "score", 0.49), true],
      [cmp("lt", "score", 0.51), true],
      [cmp("gte", "zero", -1), true],
      [cmp("lt", "zero", -0.5), false],
      [cmp("gt", "year", 1e21), false],
      [cmp("gt", "year", -Infinity), true],
    ];
    for (const [filter, expected] of cases) expect(matchesAttributes(filter, FILE), JSON.stringify(filter)).toBe(expected);
  });

  it("gt, gte, lt and lte order strings by code point, and never compare across types", () => {
    const cases: Array<[AttributeFilter, boolean]> = [
      [cmp("gt", "team", "a"), true],
      [cmp("gt", "team", "b"), false],
      [cmp("gte", "team", "b"), true],
      [cmp("lt", "team", "c"), true],
      [cmp("lte", "team", "ba"), true],
      [cmp("lt", "team", "B"), false], // "B" (0x42) sorts before "b" (0x62)
      [cmp("gt", "title", "a"), false], // code point order: "Z" < "a"
      [cmp("lt", "title", "a"), true],
      [cmp("gt", "empty", ""), false],
      [cmp("gte", "empty", ""), true],
      // A number against a string, a boolean against anything: false both ways.
      [cmp("gt", "year", "2000"), false],
      [cmp("lt", "year", "3000"), false],
      [cmp("gt", "team", 1), false],
      [cmp("lt", "team", 1), false],
      [cmp("gte", "draft", false), false],
      [cmp("lte", "draft", false), false],
      [cmp("lt", "draft", true), false],
    ];
    for (const [filter, expected] of cases) expect(matchesAttributes(filter, FILE), JSON.stringify(filter)).toBe(expected);
  });

  it("in and nin test membership, by type", () => {
    expect(matchesAttributes({ type: "in", key: "team", value: ["a", "b"] }, FILE)).toBe(true);
    expect(matchesAttributes({ type: "in", key: "team", value: ["a", "c"] }, FILE)).toBe(false);
    expect(matchesAttributes({ type: "in", key: "year", value: [2020, 2021] }, FILE)).toBe(true);
    expect(matchesAttributes({ type: "in", key: "year", value: ["2021"] }, FILE)).toBe(false);
    expect(matchesAttributes({ type: "nin", key: "team", value: ["a", "c"] }, FILE)).toBe(true);
    expect(matchesAttributes({ type: "nin", key: "team", value: ["b"] }, FILE)).toBe(false);
    expect(matchesAttributes({ type: "nin", key: "year", value: ["2021"] }, FILE)).toBe(true);
    expect(matchesAttributes({ type: "nin", key: "year", value: [2021] }, FILE)).toBe(false);
  });

  it("a key the file lacks (or holds null) matches no comparison, ne and nin included", () => {
    for (const key of ["missing", "nothing"]) {
      for (const filter of [
        eq(key, "x"),
        cmp("ne", key, "x"),
        cmp("gt", key, 0),
        cmp("gte", key, 0),
        cmp("lt", key, 0),
        cmp("lte", key, "z"),
        { type: "in", key, value: ["x"] },
        { type: "nin", key, value: ["x"] },
      ] as AttributeFilter[]) {
        expect(matchesAttributes(filter, FILE), JSON.stringify(filter)).toBe(false);
      }
    }
    expect(matchesAttributes(cmp("ne", "team", "a"), {})).toBe(false);
  });

  it("reads only the file's own keys, not the prototype's", () => {
    expect(matchesAttributes(cmp("ne", "toString", "x"), {})).toBe(false);
    expect(matchesAttributes(cmp("ne", "constructor", "x"), FILE)).toBe(false);
    expect(matchesAttributes(cmp("ne", "__proto__", "x"), {})).toBe(false);
    expect(matchesAttributes(eq("hasOwnProperty", "x"), Object.create(null))).toBe(false);
  });
});

describe("matchesAttributes: compound filters", () => {
  it("and needs every filter, or any", () => {
    expect(matchesAttributes(and(eq("team", "b"), cmp("gte", "year", 2020)), FILE)).toBe(true);
    expect(matchesAttributes(and(eq("team", "b"), cmp("gte", "year", 2022)), FILE)).toBe(false);
    expect(matchesAttributes(or(eq("team", "a"), cmp("gte", "year", 2022)), FILE)).toBe(false);
    expect(matchesAttributes(or(eq("team", "a"), cmp("gte", "year", 2020)), FILE)).toBe(true);
    expect(matchesAttributes(and(eq("team", "b")), FILE)).toBe(true);
    expect(matchesAttributes(or(eq("team", "a")), FILE)).toBe(false);
  });

  it("nests", () => {
    // team b and (year < 2000 or (not a draft and score in range))
    const nested = and(eq("team", "b"), or(cmp("lt", "year", 2000), and(eq("draft", false), cmp("gt", "score", 0.1), cmp("lte", "score", 0.5))));
    expect(matchesAttributes(nested, FILE)).toBe(true);
    expect(matchesAttributes(nested, { ...FILE, score: 0.6 })).toBe(false);
    expect(matchesAttributes(nested, { ...FILE, score: 0.6, year: 1999 })).toBe(true);
    expect(matchesAttributes(nested, { ...FILE, team: "a", year: 1999 })).toBe(false);
    const deep = and(or(and(or(and(eq("team", "b")))))); // five levels
    expect(matchesAttributes(deep, FILE)).toBe(true);
    expect(matchesAttributes(deep, { team: "c" })).toBe(false);
    // A missing key inside an or leaves the other branches to decide.
    expect(matchesAttributes(or(cmp("ne", "missing", 1), eq("team", "b")), FILE)).toBe(true);
    expect(matchesAttributes(and(cmp("ne", "missing", 1), eq("team", "b")), FILE)).toBe(false);
  });
});

describe("the attributeFilter schema", () => {
  const ok = (value: unknown) => attributeFilter.safeParse(value).success;
  const nest = (depth: number): unknown => (depth === 0 ? { type: "eq", key: "k", value: 1 } : { type: "and", filters: [nest(depth - 1)] });

  it("takes every comparison with a scalar, and in/nin with an array", () => {
    for (const type of ["eq", "ne", "gt", "gte", "lt", "lte"]) {
      for (const value of ["s", 1, 1.5, -3, true, false, ""]) expect(ok({ type, key: "k", value }), `${type} ${JSON.stringify(value)}`).toBe(true);
    }
    for (const type of ["in", "nin"]) {
      expect(ok({ type, key: "k", value: ["a", 1] })).toBe(true);
      expect(ok({ type, key: "k", value: Array.from({ length: 100 }, (_, i) => i) })).toBe(true);
    }
    const parsed = attributeFilter.parse({ type: "or", filters: [{ type: "eq", key: "k", value: 1 }, { type: "in", key: "t", value: ["x"] }] });
    expect(parsed).toEqual({ type: "or", filters: [{ type: "eq", key: "k", value: 1 }, { type: "in", key: "t", value: ["x"] }] });
  });

  it("requires an array for in and nin, and a scalar for the others", () => {
    for (const type of ["in", "nin"]) {
      for (const value of ["a", 1, true]) expect(ok({ type, key: "k", value }), `${type} ${JSON.stringify(value)}`).toBe(false);
      expect(ok({ type, key: "k", value: [] })).toBe(false);
      expect(ok({ type, key: "k", value: [true] })).toBe(false);
      expect(ok({ type, key: "k", value: [null] })).toBe(false);
      expect(ok({ type, key: "k", value: [["a"]] })).toBe(false);
      expect(ok({ type, key: "k", value: Array.from({ length: 101 }, (_, i) => i) })).toBe(false);
    }
    for (const type of ["eq", "ne", "gt", "gte", "lt", "lte"]) expect(ok({ type, key: "k", value: ["a"] }), type).toBe(false);
    const refused = comparisonFilter.safeParse({ type: "in", key: "k", value: "a" });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(["value"]);
  });

  it("refuses bad keys, values and types", () => {
    for (const bad of [
      {},
      null,
      "eq",
      [],
      { type: "eq" },
      { type: "eq", key: "k" },
      { type: "eq", value: 1 },
      { type: "eq", key: "", value: 1 },
      { type: "eq", key: "k".repeat(65), value: 1 },
      { type: "eq", key: 5, value: 1 },
      { type: "eq", key: "k", value: null },
      { type: "eq", key: "k", value: { a: 1 } },
      { type: "eq", key: "k", value: "v".repeat(513) },
      { type: "regex", key: "k", value: ".*" },
      { type: "not", filters: [{ type: "eq", key: "k", value: 1 }] },
      { type: "and" },
      { type: "and", filters: [] },
      { type: "and", filters: { type: "eq", key: "k", value: 1 } },
      { type: "or", filters: [{ type: "eq", key: "k", value: 1 }, null] },
      { type: "or", filters: Array.from({ length: 33 }, () => ({ type: "eq", key: "k", value: 1 })) },
    ]) {
      expect(ok(bad), JSON.stringify(bad)).toBe(false);
    }
    expect(ok({ type: "eq", key: "k".repeat(64), value: "v".repeat(512) })).toBe(true);
    expect(ok({ type: "or", filters: Array.from({ length: 32 }, () => ({ type: "eq", key: "k", value: 1 })) })).toBe(true);
  });

  it("takes at most 64 comparisons in one filter, however they are nested", () => {
    const leaf = { type: "eq", key: "k", value: 1 };
    const group = (n: number) => ({ type: "and", filters: Array.from({ length: n }, () => leaf) });
    expect(ok({ type: "or", filters: [group(32), group(32)] })).toBe(true);
    expect(ok({ type: "or", filters: [group(32), group(32), leaf] })).toBe(false);
  });

  it("nests compound filters at most five deep", () => {
    for (let depth = 1; depth <= 5; depth++) expect(ok(nest(depth)), `depth ${depth}`).toBe(true);
    for (const depth of [6, 7, 50]) expect(ok(nest(depth)), `depth ${depth}`).toBe(false);
    // The limit counts compound levels on every branch, not just the first.
    const wideThenDeep = { type: "or", filters: [nest(0), nest(4)] };
    expect(ok(wideThenDeep)).toBe(true);
    expect(ok({ type: "or", filters: [nest(0), nest(5)] })).toBe(false);
  });
});
