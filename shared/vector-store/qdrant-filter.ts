import type { Schemas } from "@qdrant/js-client-rest";
import { matchesFilter, type Condition, type Filter, type Scalar } from "./filter.ts";

type QdrantFilter = Schemas["Filter"];
type QdrantCondition = Schemas["Condition"];

/** The payload path of a metadata key (quoted when it holds characters outside \w). */
export function metadataPath(key: string): string {
  return /^\w+$/.test(key) ? `metadata.${key}` : `metadata."${key}"`;
}

function equals(key: string, value: Scalar): QdrantCondition {
  // Qdrant matches keywords, integers and booleans exactly; a fractional number needs a range.
  if (typeof value === "number" && !Number.isInteger(value)) return { key, range: { gte: value, lte: value } };
  return { key, match: { value } };
}

function anyOf(key: string, values: Scalar[]): QdrantCondition {
  if (values.every((v) => typeof v === "string")) return { key, match: { any: values as string[] } };
  if (values.every((v) => typeof v === "number" && Number.isInteger(v))) return { key, match: { any: values as number[] } };
  return { should: values.map((v) => equals(key, v)) };
}

/** Matches no point: every point has a tenant_id. */
const NOTHING: QdrantCondition = { is_empty: { key: "tenant_id" } };

function translateCondition(key: string, condition: Condition): QdrantCondition {
  const path = metadataPath(key);
  if (typeof condition !== "object") return equals(path, condition);
  const range: Schemas["Range"] = {};
  if (condition.$gt !== undefined) range.gt = condition.$gt;
  if (condition.$gte !== undefined) range.gte = condition.$gte;
  if (condition.$lt !== undefined) range.lt = condition.$lt;
  if (condition.$lte !== undefined) range.lte = condition.$lte;
  const ranged = Object.keys(range).length > 0;
  if (condition.$eq === undefined && condition.$in === undefined) return { key: path, range };
  // All operators of one key must hold for the same value (as in matchesFilter, also for array
  // payloads): with concrete values to match, apply $in and the range to them here and send
  // one match, rather than separate conditions that different array elements could satisfy.
  let values: Scalar[] = condition.$eq !== undefined ? [condition.$eq] : condition.$in!;
  if (condition.$in !== undefined) values = values.filter((v) => condition.$in!.includes(v));
  const { $gt, $gte, $lt, $lte } = condition;
  const bounds = Object.fromEntries(Object.entries({ $gt, $gte, $lt, $lte }).filter(([, b]) => b !== undefined)) as Condition;
  if (ranged) values = values.filter((v) => matchesFilter({ v: bounds }, { v }));
  if (values.length === 0) return NOTHING;
  return values.length === 1 ? equals(path, values[0]!) : anyOf(path, values);
}

/**
 * Translates the API's filter language to a Qdrant filter, always scoped to the tenant (and, when
 * given, one document or a set of documents). Semantics match `matchesFilter`: all keys must hold; Qdrant matches an
 * array payload when any element matches, as the reference does.
 */
export function toQdrantFilter(tenantId: string, filter?: Filter, documentId?: string, documentIds?: readonly string[]): QdrantFilter {
  const must: QdrantCondition[] = [{ key: "tenant_id", match: { value: tenantId } }];
  if (documentId) must.push({ key: "document_id", match: { value: documentId } });
  if (documentIds) must.push(documentIds.length === 0 ? NOTHING : { key: "document_id", match: { any: [...documentIds] } });
  for (const [key, condition] of Object.entries(filter ?? {})) must.push(translateCondition(key, condition));
  return { must };
}
