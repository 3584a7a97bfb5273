import { Router } from "express";
import { z } from "zod";
import type { Deps } from "../../shared/deps.ts";
import { LOCAL_MODEL } from "../../shared/embeddings/local.embedding-provider.ts";
import { validationError } from "../../shared/errors/app-error.ts";
import { countTokens } from "../../shared/parsing/tokenizer.ts";
import { validate } from "../middleware/validate.ts";

const MAX_INPUTS = 64;
const MAX_TOKENS_PER_INPUT = 8192;

export const embeddingsBody = z.object({
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(MAX_INPUTS, `at most ${MAX_INPUTS} inputs; ingest documents for bulk work`)]),
  model: z.string().min(1).max(200).optional(),
  dimensions: z.number().int().min(1).max(8192).optional(),
  encoding_format: z.enum(["float", "base64"]).default("float"),
  user: z.string().optional(),
});

/**
 * OpenAI-compatible embeddings for small batches, with the deployment's providers: the official
 * SDK pointed at Quarry (`baseURL: <quarry>/v1`) works unchanged, base64 included.
 */
export function embeddingsRoutes(deps: Deps): Router {
  const router = Router();

  router.post("/v1/embeddings", async (req, res) => {
    const body = validate(embeddingsBody, req.body);
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const tokens = inputs.map(countTokens);
    const tooLong = tokens.findIndex((t) => t > MAX_TOKENS_PER_INPUT);
    if (tooLong >= 0) {
      const message = `has ${tokens[tooLong]} tokens; the limit is ${MAX_TOKENS_PER_INPUT}`;
      throw validationError(`input.${tooLong}: ${message}`, [{ field: `input.${tooLong}`, message }]);
    }
    // No model: the deployment's default. The local model by its name; any other name is the
    // OpenAI-compatible provider's (422 when none is configured).
    const spec = await deps.embedders.resolve({
      ...(body.model ? { provider: body.model === LOCAL_MODEL ? "local" : "openai", model: body.model } : {}),
      ...(body.dimensions ? { dimensions: body.dimensions } : {}),
    });
    const vectors = await deps.embedders.for(spec).embed(inputs);
    const promptTokens = tokens.reduce((a, b) => a + b, 0);
    res.json({
      object: "list",
      data: vectors.map((vector, index) => ({
        object: "embedding",
        index,
        embedding: body.encoding_format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : vector,
      })),
      model: spec.model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  });

  return router;
}
