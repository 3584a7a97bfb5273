import { embedChunks } from "../../shared/use-cases/embed-chunks.ts";
import type { Processor } from "../processor.ts";

export const embedChunksProcessor: Processor<"embed_chunks"> = async (payload, ctx) => {
  const outcome = await embedChunks(ctx.deps, payload, ctx.checkpoint);
  if ("retryInMs" in outcome) return ctx.rateLimited(outcome.retryInMs);
  if ("stopped" in outcome) return { stopped: true };
  return { embedded: outcome.done };
};
