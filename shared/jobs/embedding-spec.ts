import { z } from "zod";

/** The embedding model a collection's vectors come from. */
export const embeddingSpecSchema = z.object({ provider: z.string(), model: z.string(), dimensions: z.number().int().positive() });
