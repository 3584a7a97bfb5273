import { ingestDocument } from "../../shared/use-cases/documents.ts";
import type { Processor } from "../processor.ts";

export const ingestDocumentProcessor: Processor<"ingest_document"> = (payload, ctx) => ingestDocument(ctx.deps, payload, ctx.progress);
