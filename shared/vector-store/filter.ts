import { z } from "zod";

/**
 * The metadata filter language of the API, the same on every vector store:
 * `{"user_id": "42"}` equality, `{"tag": {"$in": [...]}}`, `{"year": {"$gte": 2020, "$lt": 2025}}`.
 * Conditions on several keys must all hold. A key whose value is an array in the metadata
 * matches when any element matches.
 */
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const operators = z
  .object({
    $eq: scalar.optional(),
    $in: z.array(scalar).min(1).max(1000).optional(),
    $gt: z.number().optional(),
    $gte: z.number().optional(),
    $lt: z.number().optional(),
    $lte: z.number().optional(),
  })
  .strict()
  .refine((o) => Object.keys(o).length > 0, "an operator object needs at least one of $eq, $in, $gt, $gte, $lt, $lte");

export const filterSchema = z
  .record(z.string().regex(/^[A-Za-z_][\w-]{0,63}$/, "metadata keys are letters, digits, _ and - (max 64), not nested paths"), z.union([scalar, operators]))
  .refine((f) => Object.keys(f).length <= 32, "at most 32 conditions");

export type Scalar = z.infer<typeof scalar>;
export type Condition = Scalar | z.infer<typeof operators>;
export type Filter = Record<string, Condition>;

/** The reference semantics: what every adapter's native translation must agree with. */
export function matchesFilter(filter: Filter | undefined, metadata: Record<string, unknown>): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, condition]) => {
    const raw = metadata[key];
    const values = Array.isArray(raw) ? raw : [raw];
    return values.some((value) => matchesCondition(condition, value));
  });
}

function matchesCondition(condition: Condition, value: unknown): boolean {
  if (typeof condition !== "object") return value === condition;
  if (condition.$eq !== undefined && value !== condition.$eq) return false;
  if (condition.$in !== undefined && !condition.$in.includes(value as Scalar)) return false;
  const ranged = condition.$gt !== undefined || condition.$gte !== undefined || condition.$lt !== undefined || condition.$lte !== undefined;
  if (!ranged) return true;
  if (typeof value !== "number") return false;
  if (condition.$gt !== undefined && !(value > condition.$gt)) return false;
  if (condition.$gte !== undefined && !(value >= condition.$gte)) return false;
  if (condition.$lt !== undefined && !(value < condition.$lt)) return false;
  if (condition.$lte !== undefined && !(value <= condition.$lte)) return false;
  return true;
}
