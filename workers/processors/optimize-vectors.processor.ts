import { optimizeVectors } from "../../shared/use-cases/optimize-vectors.ts";
import type { Processor } from "../processor.ts";

export const optimizeVectorsProcessor: Processor<"optimize_vectors"> = (payload, ctx) =>
  optimizeVectors(ctx.deps, payload.collection_id ? { collectionId: payload.collection_id, version: payload.vector_version, semantic: payload.semantic } : undefined);
