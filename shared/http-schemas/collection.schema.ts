import { z } from "zod";
import { timestamp, uuid } from "./common.schema.ts";

export const embeddingSpec = z.object({
  provider: z.string().meta({ examples: ["local", "openai"] }),
  model: z.string(),
  dimensions: z.int().min(1),
});

export const collection = z.object({
  id: uuid,
  name: z.string(),
  embedding: embeddingSpec,
  document_count: z.int().min(0),
  reembedding_to: embeddingSpec.optional().describe("present while a re-embed to this model runs"),
  created_at: timestamp,
});

export type CollectionView = z.output<typeof collection>;
