import { z } from "zod";
import { MAX_JSON_DEPTH } from "./json-body.ts";

/**
 * Why Postgres cannot keep this string as it is, if it cannot: it refuses NUL in `text` and
 * `jsonb`, refuses lone UTF-16 surrogates in `jsonb`, and a lone surrogate in `text` silently
 * turns into U+FFFD on the way.
 */
export function unsafeTextReason(value: string): string | undefined {
  if (value.includes("\u0000")) return "must not contain NUL characters (\\u0000)";
  if (!value.isWellFormed()) return "must be well-formed Unicode (it contains a lone UTF-16 surrogate)";
  return undefined;
}

function rejectUnsafeText(value: string, ctx: z.RefinementCtx): void {
  const reason = unsafeTextReason(value);
  if (reason) ctx.addIssue({ code: "custom", message: reason });
}

/** A string Postgres can store: chain the usual checks after it (`safeText().trim().min(1)`). */
export const safeText = () => z.string().superRefine(rejectUnsafeText);

/** The same check for a string schema of another kind (`z.url()`). */
export const withSafeText = <S extends z.ZodType<string>>(schema: S) => schema.superRefine(rejectUnsafeText);

const MAX_ISSUES = 10;

/**
 * Walks a parsed JSON value without recursion and reports, by path, every key or string value
 * Postgres would refuse and any nesting deeper than `maxDepth` (the value itself is level 1).
 */
function checkJsonValue(root: unknown, ctx: z.RefinementCtx, maxDepth: number): void {
  let issues = 0;
  const report = (path: PropertyKey[], message: string) => {
    if (issues++ < MAX_ISSUES) ctx.addIssue({ code: "custom", path, message });
  };
  const stack: Array<{ value: unknown; path: PropertyKey[]; depth: number }> = [{ value: root, path: [], depth: 0 }];
  while (stack.length > 0 && issues < MAX_ISSUES) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === "string") {
      const reason = unsafeTextReason(value);
      if (reason) report(path, reason);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth + 1 > maxDepth) {
      report(path, `nested deeper than ${maxDepth} levels`);
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push({ value: item, path: [...path, index], depth: depth + 1 }));
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      const reason = unsafeTextReason(key);
      if (reason) report([...path, key], `the key ${reason}`);
      stack.push({ value: item, path: [...path, key], depth: depth + 1 });
    }
  }
}

/** Refines any JSON-shaped schema so that Postgres can store what it accepts (keys and strings at any depth). */
export const withSafeJson = <S extends z.ZodType>(schema: S, maxDepth = MAX_JSON_DEPTH) =>
  schema.superRefine((value, ctx) => checkJsonValue(value, ctx, maxDepth));

/** Document metadata: a JSON object with keys of at most 64 characters, storable in jsonb. */
export const metadataSchema = withSafeJson(z.record(z.string().max(64), z.unknown()));
