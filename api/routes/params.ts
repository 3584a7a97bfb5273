import { z } from "zod";
import { notFound } from "../../shared/errors/app-error.ts";

const uuid = z.uuid();

/** A path id that is not a uuid cannot name anything: 404, like another tenant's id. */
export function idParam(value: string | string[] | undefined, what: string): string {
  const parsed = uuid.safeParse(value);
  if (!parsed.success) throw notFound(what);
  return parsed.data.toLowerCase();
}

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
