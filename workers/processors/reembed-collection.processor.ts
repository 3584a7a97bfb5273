import { finalizeReembed, planReembed } from "../../shared/use-cases/reembed.ts";
import type { Processor } from "../processor.ts";

/** plan → (embed batches into the next generation) → switch over. Cancellable before the switch. */
export const reembedCollectionProcessor: Processor<"reembed_collection"> = async (payload, ctx) => {
  if (payload.step === "plan") {
    const { targetVersion, batches } = await planReembed(ctx.deps, payload, ctx.job.id!);
    await ctx.checkpoint();
    await ctx.fanOut(batches, { ...payload, step: "finalize", target_version: targetVersion });
    await ctx.checkpoint();
    return finalizeReembed(ctx.deps, { ...payload, target_version: targetVersion }, ctx.job.id!);
  }
  await ctx.waitForChildren();
  await ctx.checkpoint();
  return finalizeReembed(ctx.deps, payload, ctx.job.id!);
};
