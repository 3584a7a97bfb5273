import type { Config } from "../shared/config/env.ts";
import type { JobName, JobPayload } from "../shared/queues/job-schemas.ts";

export interface Schedule<N extends JobName = JobName> {
  /** The Job Scheduler id: stable, so declaring it again updates rather than duplicates. */
  id: string;
  job: N;
  payload: JobPayload<N>;
  repeat: { pattern: string; tz?: string } | { every: number };
}

/** Every recurring job Quarry runs. Backups and retention join this list. */
export function schedules(config: Pick<Config, "VECTOR_MAINTENANCE_EVERY_MS">): Schedule[] {
  return [
    {
      id: "reconcile-jobs",
      job: "reconcile_jobs",
      payload: { older_than_ms: 10 * 60_000 },
      repeat: { every: 5 * 60_000 },
    } satisfies Schedule<"reconcile_jobs">,
    {
      id: "optimize-vectors",
      job: "optimize_vectors",
      payload: {},
      repeat: { every: config.VECTOR_MAINTENANCE_EVERY_MS },
    } satisfies Schedule<"optimize_vectors">,
  ];
}
