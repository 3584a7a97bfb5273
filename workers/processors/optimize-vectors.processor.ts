import { optimizeVectors } from "../../shared/use-cases/optimize-vectors.ts";
import type { Processor } from "../processor.ts";

export const optimizeVectorsProcessor: Processor<"optimize_vectors"> = (_payload, ctx) => optimizeVectors(ctx.deps);
