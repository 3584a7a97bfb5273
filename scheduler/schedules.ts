import type { Config } from "../shared/config/env.ts";
import type { JobName, JobPayload } from "../shared/jobs/index.ts";

export interface Schedule<N extends JobName = JobName> {
  /** The Job Scheduler id: stable, so declaring it again updates rather than duplicates. */
  id: string;
  job: N;
  payload: JobPayload<N>;
  repeat: { pattern: string; tz?: string } | { every: number };
}

/**
 * Every recurring job Quarry runs. Backups and retention join this list. (Healing job records
 * and relaying the outbox are not here: every process does them every few seconds.)
 */
export function schedules(config: Pick<Config, "VECTOR_MAINTENANCE_EVERY_MS">): Schedule[] {
  return [
    {
      id: "optimize-vectors",
      job: "optimize_vectors",
      payload: {},
      repeat: { every: config.VECTOR_MAINTENANCE_EVERY_MS },
    } satisfies Schedule<"optimize_vectors">,
  ];
}
