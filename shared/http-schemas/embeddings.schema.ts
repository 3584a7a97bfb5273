import { z } from "zod";

/** OpenAI-compatible `POST /v1/embeddings` answer. */
export const embeddingsResponse = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      object: z.literal("embedding"),
      index: z.int().min(0),
      embedding: z.union([z.array(z.number()), z.string().describe("base64 of little-endian float32 values (encoding_format: base64)")]),
    }),
  ),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.int().min(0), total_tokens: z.int().min(0) }),
});
