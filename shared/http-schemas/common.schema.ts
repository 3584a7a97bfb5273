import { z } from "zod";

/** Building blocks of the response schemas. */

export const uuid = z.uuid();

/** Timestamps are ISO 8601 in UTC, as `Date.toISOString()` writes them. */
export const timestamp = z.iso.datetime();

/** A code and a message: why a document or a job failed. */
export const failure = z.object({
  code: z.string().meta({ examples: ["NO_TEXT"] }),
  message: z.string(),
});

/** A page of a list: `next_cursor` is null on the last page. */
export const page = <T extends z.ZodType>(item: T) =>
  z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().describe("pass as `cursor` for the next page; null on the last one"),
  });
