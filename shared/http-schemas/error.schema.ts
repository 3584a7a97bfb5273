import { z } from "zod";

/** Every error answer: `{error: {code, message, details?, retry_after?}}`. */
export const errorResponse = z.object({
  error: z.object({
    code: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/)
      .meta({ examples: ["VALIDATION_ERROR", "NOT_FOUND"] }),
    message: z.string(),
    details: z.unknown().optional().describe("for VALIDATION_ERROR, `[{field, message}]`"),
    retry_after: z.int().min(0).optional().describe("seconds; also sent as the Retry-After header"),
  }),
});

export type ErrorResponse = z.output<typeof errorResponse>;
