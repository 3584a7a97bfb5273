import { deleteDocument } from "../../shared/use-cases/documents.ts";
import type { Processor } from "../processor.ts";

export const deleteDocumentProcessor: Processor<"delete_document"> = (payload, ctx) => deleteDocument(ctx.deps, payload);
