import { z } from "zod";
import { defineJob, runOnce } from "./job-definition.ts";

/** Internal, scheduled: compacts and indexes every collection's vectors (embedded store). */
export const optimizeVectorsJob = defineJob({
  name: "optimize_vectors",
  schema: z.object({}),
  queue: "ingest",
  options: () => runOnce,
  visibility: "internal",
  cancel: "never",
  retry: false,
});
