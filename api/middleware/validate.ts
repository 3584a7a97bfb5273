import type { z } from "zod";
import { validationError } from "../../shared/errors/app-error.ts";

/** Parses request input; a failure answers 400 VALIDATION_ERROR naming each bad field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ field: i.path.join(".") || "(body)", message: i.message }));
  throw validationError(details.map((d) => `${d.field}: ${d.message}`).join("; "), details);
}
