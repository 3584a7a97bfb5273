import { describe, expect, it } from "vitest";
import { filterSchema, matchesFilter } from "../../shared/vector-store/filter.ts";

const doc = { user_id: "42", tag: ["a", "b"], year: 2021, draft: false };

describe("matchesFilter", () => {
  it.each([
    [{ user_id: "42" }, true],
    [{ user_id: "7" }, false],
    [{ user_id: 42 }, false],
    [{ tag: "b" }, true],
    [{ tag: { $in: ["c", "a"] } }, true],
    [{ tag: { $in: ["c"] } }, false],
    [{ year: { $gte: 2021 } }, true],
    [{ year: { $gt: 2021 } }, false],
    [{ year: { $lt: 2022, $gte: 2020 } }, true],
    [{ year: { $lte: 2020 } }, false],
    [{ draft: false }, true],
    [{ missing: "x" }, false],
    [{ user_id: "42", year: { $gte: 2030 } }, false],
    [{ user_id: { $gte: 1 } }, false],
  ])("%j → %s", (filter, expected) => {
    expect(matchesFilter(filterSchema.parse(filter), doc)).toBe(expected);
  });

  it("matches everything without a filter", () => {
    expect(matchesFilter(undefined, {})).toBe(true);
  });

  it("rejects unknown operators and malformed keys", () => {
    expect(filterSchema.safeParse({ year: { $regex: "x" } }).success).toBe(false);
    expect(filterSchema.safeParse({ "bad key;": 1 }).success).toBe(false);
    expect(filterSchema.safeParse({ tag: { $in: [] } }).success).toBe(false);
  });
});
