import type { Schemas } from "@qdrant/js-client-rest";
import { describe, expect, it } from "vitest";
import { filterSchema } from "../../shared/vector-store/filter.ts";
import { metadataPath, toQdrantFilter } from "../../shared/vector-store/qdrant-filter.ts";

const tenant: Schemas["Condition"] = { key: "tenant_id", match: { value: "acme" } };
const translate = (filter: unknown) => toQdrantFilter("acme", filterSchema.parse(filter));

describe("toQdrantFilter", () => {
  it("always scopes to the tenant, and to a document when given", () => {
    expect(toQdrantFilter("acme")).toEqual({ must: [tenant] });
    expect(toQdrantFilter("acme", undefined, "d1")).toEqual({ must: [tenant, { key: "document_id", match: { value: "d1" } }] });
  });

  it("translates equality on strings, integers and booleans to match.value", () => {
    expect(translate({ user_id: "42", page: 3, draft: false })).toEqual({
      must: [
        tenant,
        { key: "metadata.user_id", match: { value: "42" } },
        { key: "metadata.page", match: { value: 3 } },
        { key: "metadata.draft", match: { value: false } },
      ],
    });
  });

  it("turns equality on a fractional number into a closed range (Qdrant matches only integers)", () => {
    expect(translate({ score: 0.5 }).must).toContainEqual({ key: "metadata.score", range: { gte: 0.5, lte: 0.5 } });
  });

  it("translates $in to match.any for strings or integers, and to should for mixed values", () => {
    expect(translate({ tag: { $in: ["a", "b"] } }).must).toContainEqual({ key: "metadata.tag", match: { any: ["a", "b"] } });
    expect(translate({ n: { $in: [1, 2] } }).must).toContainEqual({ key: "metadata.n", match: { any: [1, 2] } });
    expect(translate({ x: { $in: ["a", 1, true] } }).must).toContainEqual({
      should: [
        { key: "metadata.x", match: { value: "a" } },
        { key: "metadata.x", match: { value: 1 } },
        { key: "metadata.x", match: { value: true } },
      ],
    });
  });

  it("translates the range operators into one range condition", () => {
    expect(translate({ year: { $gte: 2020, $lt: 2025 } }).must).toContainEqual({ key: "metadata.year", range: { gte: 2020, lt: 2025 } });
    expect(translate({ year: { $gt: 1, $lte: 9 } }).must).toContainEqual({ key: "metadata.year", range: { gt: 1, lte: 9 } });
  });

  it("applies all operators of one key to the same value, as the reference does for arrays", () => {
    expect(translate({ v: { $eq: 3, $gte: 1 } }).must).toEqual([tenant, { key: "metadata.v", match: { value: 3 } }]);
    expect(translate({ v: { $in: [1, 5, 9], $gt: 2, $lt: 9 } }).must).toEqual([tenant, { key: "metadata.v", match: { value: 5 } }]);
    expect(translate({ v: { $in: ["a", "b"], $eq: "b" } }).must).toEqual([tenant, { key: "metadata.v", match: { value: "b" } }]);
    // {k: [1, 3]} must not match {$eq: 1, $gt: 2}: no single value is both.
    expect(translate({ v: { $eq: 1, $gt: 2 } }).must).toEqual([tenant, { is_empty: { key: "tenant_id" } }]);
  });

  it("quotes keys that are not plain words", () => {
    expect(metadataPath("user_id")).toBe("metadata.user_id");
    expect(metadataPath("content-type")).toBe('metadata."content-type"');
  });
});
