import { deleteCollection } from "../../shared/use-cases/collections.ts";
import type { Processor } from "../processor.ts";

export const deleteCollectionProcessor: Processor<"delete_collection"> = (payload, ctx) =>
  deleteCollection(ctx.deps, payload.tenant_id, payload.collection_id);
