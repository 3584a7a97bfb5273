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
 * Every recurring job Quarry runs. Retention is not a schedule of its own: it runs after each
 * backup that succeeds. (Healing job records and relaying the outbox are not here either: every
 * process does them every few seconds.)
 */
export function schedules(config: Pick<Config, "VECTOR_MAINTENANCE_EVERY_MS" | "BACKUP_CRON" | "BACKUP_TZ">): Schedule[] {
  const list: Schedule[] = [
    {
      id: "optimize-vectors",
      job: "optimize_vectors",
      payload: {},
      repeat: { every: config.VECTOR_MAINTENANCE_EVERY_MS },
    } satisfies Schedule<"optimize_vectors">,
  ];
  // BACKUP_CRON=off declares none, and declaring removes the one an earlier start left.
  if (config.BACKUP_CRON !== "off") {
    list.push({
      id: "nightly-backup",
      job: "schedule_backup",
      payload: {},
      repeat: { pattern: config.BACKUP_CRON, tz: config.BACKUP_TZ },
    } satisfies Schedule<"schedule_backup">);
  }
  return list;
}
