import { z } from "zod";

/**
 * OpenAI's attribute filters: a comparison `{type: eq|ne|gt|gte|lt|lte|in|nin, key, value}` or a
 * compound `{type: and|or, filters: [...]}`, nested at most 5 deep.
 */
const scalar = z.union([z.string().max(512), z.number(), z.boolean()]);

export const comparisonFilter = z
  .object({
    type: z.enum(["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]),
    key: z.string().min(1).max(64),
    value: z.union([scalar, z.array(z.union([z.string().max(512), z.number()])).min(1).max(100)]),
  })
  .refine((f) => (f.type === "in" || f.type === "nin") === Array.isArray(f.value), {
    message: "in and nin take an array value; the other comparisons take a string, number or boolean",
    path: ["value"],
  });

export type ComparisonFilter = z.infer<typeof comparisonFilter>;
export type CompoundFilter = { type: "and" | "or"; filters: AttributeFilter[] };
export type AttributeFilter = ComparisonFilter | CompoundFilter;

const MAX_DEPTH = 5;

function filterAt(depth: number): z.ZodType<AttributeFilter> {
  if (depth >= MAX_DEPTH) return comparisonFilter;
  const compound = z.object({ type: z.enum(["and", "or"]), filters: z.array(z.lazy(() => filterAt(depth + 1))).min(1).max(32) });
  return z.union([comparisonFilter, compound]) as z.ZodType<AttributeFilter>;
}

/** Comparisons in a whole filter, at most: a search evaluates the filter on every completed file of the store. */
const MAX_COMPARISONS = 64;

function comparisons(filter: AttributeFilter): number {
  return "filters" in filter ? filter.filters.reduce((n, f) => n + comparisons(f), 0) : 1;
}

export const attributeFilter = filterAt(0).refine((f) => comparisons(f) <= MAX_COMPARISONS, `at most ${MAX_COMPARISONS} comparisons in one filter`);

/** Whether a file's attributes satisfy the filter. A comparison on a key the file lacks is false (`ne` and `nin` too). */
export function matchesAttributes(filter: AttributeFilter, attributes: Record<string, unknown>): boolean {
  if ("filters" in filter) {
    return filter.type === "and" ? filter.filters.every((f) => matchesAttributes(f, attributes)) : filter.filters.some((f) => matchesAttributes(f, attributes));
  }
  // Own keys only: `constructor` or `__proto__` must not find Object.prototype's.
  const actual = Object.hasOwn(attributes, filter.key) ? attributes[filter.key] : undefined;
  if (actual === undefined || actual === null) return false;
  const { value } = filter;
  switch (filter.type) {
    case "eq":
      return actual === value;
    case "ne":
      return actual !== value;
    case "in":
      return (value as Array<string | number>).includes(actual as string | number);
    case "nin":
      return !(value as Array<string | number>).includes(actual as string | number);
    default:
      return ordered(filter.type, actual, value);
  }
}

/** gt/gte/lt/lte: numbers by value, strings by code point; different types never compare. */
function ordered(type: "gt" | "gte" | "lt" | "lte", actual: unknown, value: unknown): boolean {
  if (typeof actual !== typeof value || (typeof actual !== "number" && typeof actual !== "string")) return false;
  const a = actual as number | string;
  const v = value as number | string;
  if (type === "gt") return a > v;
  if (type === "gte") return a >= v;
  if (type === "lt") return a < v;
  return a <= v;
}
