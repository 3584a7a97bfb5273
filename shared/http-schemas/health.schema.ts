import { z } from "zod";

export const health = z.object({ status: z.literal("ok") });

const check = z.discriminatedUnion("status", [z.object({ status: z.literal("ok") }), z.object({ status: z.literal("down"), error: z.string() })]);

export const readiness = z.object({
  status: z.enum(["ready", "unavailable"]),
  checks: z.object({ redis: check, postgres: check, vector_store: check }),
});
