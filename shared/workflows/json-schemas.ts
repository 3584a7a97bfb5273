import { createHash } from "node:crypto";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** A tenant's JSON Schema (an input_schema, an llm step's answer schema) is at most this large. */
export const MAX_SCHEMA_BYTES = 16 * 1024;
/** Compiled validators kept per process; a schema is compiled once, not on every run or attempt. */
const CACHE_SIZE = 256;

export interface SchemaValidator {
  validate(value: unknown): boolean;
  /** What the last `validate` found wrong, in words. */
  errors(): string;
}

/**
 * Keywords refused in a tenant's schema: `pattern` and `patternProperties` run the tenant's
 * regular expressions on Quarry's event loop (a catastrophic-backtracking one stalls the process),
 * and `$async` makes validation a promise that would pass everything.
 */
const REFUSED = new Set(["pattern", "patternProperties", "$async"]);

/** Keywords whose value maps names to schemas (the names are a tenant's, not keywords). */
const SCHEMA_MAPS = new Set(["properties", "$defs", "definitions", "dependentSchemas"]);
/** Keywords whose value is data, not a schema. */
const DATA = new Set(["enum", "const", "default", "examples", "required", "dependentRequired"]);

function refusedKeyword(schema: unknown): string | undefined {
  const stack: unknown[] = [schema];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (REFUSED.has(key)) return key;
        if (DATA.has(key)) continue;
        if (SCHEMA_MAPS.has(key) && value && typeof value === "object") stack.push(...Object.values(value));
        else stack.push(value);
      }
    }
  }
  return undefined;
}

const cache = new Map<string, SchemaValidator | { problem: string }>();

function compile(text: string): SchemaValidator | { problem: string } {
  // One Ajv per schema: a tenant's `$id` cannot collide with another schema's, and the compiled
  // code goes when the cache lets it go.
  const ajv = new Ajv2020({ strict: false, allErrors: true, loadSchema: undefined });
  addFormats.default(ajv);
  try {
    const validate = ajv.compile(JSON.parse(text) as object);
    return { validate: (v) => validate(v) === true, errors: () => ajv.errorsText(validate.errors, { dataVar: "value" }) };
  } catch (err) {
    return { problem: `not a valid JSON Schema: ${(err as Error).message}` };
  }
}

/** The validator of a tenant's JSON Schema, or why it is refused (too large, a refused keyword, not a schema). */
export function schemaValidator(schema: object): SchemaValidator | { problem: string } {
  const text = JSON.stringify(schema);
  if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES) return { problem: `larger than ${MAX_SCHEMA_BYTES} bytes` };
  const keyword = refusedKeyword(schema);
  if (keyword) return { problem: `"${keyword}" is not supported in a workflow's schemas${keyword === "$async" ? "" : " (regular expressions from a definition could stall the process)"}` };
  const key = createHash("sha256").update(text).digest("base64url");
  let found = cache.get(key);
  if (found) {
    cache.delete(key); // most recently used goes last
  } else {
    found = compile(text);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, found);
  return found;
}
