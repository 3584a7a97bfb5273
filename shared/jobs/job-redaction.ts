/** What takes the place of a value an operator's view must not show. */
export const REDACTED = "[redacted]";

/**
 * Fields of job payloads and results that hold only ids, counts, enums, model names and times.
 * Everything else — a workflow run's `outputs`, a collection's `name`, a field a future job type
 * adds — is replaced: new fields are hidden until someone decides they are safe.
 */
const SAFE_KEYS = new Set([
  "id",
  "step",
  "step_id",
  "run",
  "version",
  "trigger",
  "scope",
  "status",
  "code",
  "checksum",
  "restored_as",
  "from",
  "to",
  "chunk_index",
  "progress",
  "base",
  "span",
  "embedding",
  "provider",
  "model",
  "dimensions",
  "as_new_collection",
  "ready_only",
  "skipped",
  "stopped",
  "cancelled",
  "ended",
  "duplicate",
  "repeated",
  "created",
  "embedded",
  "collections",
  "documents",
  "chunks",
  "points",
]);
const SAFE_SUFFIXES = ["_id", "_ids", "_count", "_bytes", "_version", "_at", "_ms"];
/** Only these hold arrays worth showing (of ids, or of per-collection counts); any other array — an embedding vector — is hidden. */
const isArrayKey = (key: string) => key.endsWith("_ids") || key === "collections";
const isSafeKey = (key: string) => SAFE_KEYS.has(key) || SAFE_SUFFIXES.some((s) => key.endsWith(s));
/** Ids, enums, model names, ISO times, `sha256:…`: no spaces, nothing long. */
const SAFE_STRING = /^[\w.:@+-]{0,200}$/;
const MAX_ITEMS = 50;

function redactValue(key: string, value: unknown, depth: number): unknown {
  if (value === null || value === undefined || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "string") return SAFE_STRING.test(value) ? value : REDACTED;
  if (depth > 4) return REDACTED;
  if (Array.isArray(value)) {
    if (!isArrayKey(key)) return REDACTED;
    const shown = value.slice(0, MAX_ITEMS).map((item) => redactValue(key, item, depth + 1));
    return value.length > MAX_ITEMS ? [...shown, `… ${value.length - MAX_ITEMS} more`] : shown;
  }
  if (typeof value === "object") return redactObject(value as Record<string, unknown>, depth + 1);
  return REDACTED;
}

function redactObject(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) out[key] = isSafeKey(key) ? redactValue(key, field, depth) : REDACTED;
  return out;
}

/**
 * A job's data, return value or progress as an operator may see it (Bull Board): ids, counts,
 * enums, times and model names stay; document text, chunk text, workflow outputs, metadata,
 * names, URLs and vectors become `"[redacted]"`. Keys stay visible, so the shape still reads.
 */
export function redactJobValue(value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return redactObject(value as Record<string, unknown>, 0);
  return redactValue("", value, 0);
}
