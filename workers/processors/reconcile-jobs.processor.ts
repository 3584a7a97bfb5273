import { reconcileJobs } from "../../shared/use-cases/reconcile-jobs.ts";
import type { Processor } from "../processor.ts";

export const reconcileJobsProcessor: Processor<"reconcile_jobs"> = (payload, ctx) => reconcileJobs(ctx.deps, payload.older_than_ms);
