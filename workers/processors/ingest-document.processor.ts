import { finalizeDocument, prepareDocument } from "../../shared/use-cases/documents.ts";
import type { Processor } from "../processor.ts";

/** (fetch →) parse → (embed batches on the embed queue) → finalize. Cancellable at each step. */
export const ingestDocumentProcessor: Processor<"ingest_document"> = async (payload, ctx) => {
  if (payload.step === "parse") {
    const batches = await prepareDocument(ctx.deps, payload, ctx.job.id!, ctx);
    if (batches === "unchanged") return { ...(await finalizeDocument(ctx.deps, payload)), changed: false };
    await ctx.checkpoint();
    await ctx.fanOut(batches, { ...payload, step: "finalize" });
  } else {
    // A resumed job (or one retried after a crash between its steps) must still wait for its batches.
    await ctx.waitForChildren();
  }
  await ctx.checkpoint();
  const result = await finalizeDocument(ctx.deps, payload);
  return payload.refresh ? { ...result, changed: true } : result;
};
