import { jobDefinition, QUEUES_IN_USE } from "../shared/jobs/index.ts";
import type { Logger } from "../shared/logging/logger.ts";
import type { JobProducer } from "../shared/queues/producer.ts";
import type { Schedule } from "./schedules.ts";

/**
 * Declares each schedule with `upsertJobScheduler` (idempotent, so running it twice is harmless)
 * and removes the schedulers that are no longer declared (renamed, dropped), so none keeps running.
 */
export async function declareSchedules(producer: JobProducer, list: Schedule[], logger: Logger): Promise<void> {
  for (const schedule of list) {
    await producer.queueFor(schedule.job).upsertJobScheduler(schedule.id, schedule.repeat, {
      name: schedule.job,
      data: jobDefinition(schedule.job).schema.parse(schedule.payload),
      opts: producer.options(schedule.job),
    });
    logger.info({ scheduler: schedule.id, job: schedule.job, repeat: schedule.repeat }, "job scheduler declared");
  }
  const declared = new Set(list.map((s) => s.id));
  for (const queueName of QUEUES_IN_USE) {
    const queue = producer.queue(queueName);
    for (const existing of await queue.getJobSchedulers(0, -1)) {
      if (declared.has(existing.key)) continue;
      await queue.removeJobScheduler(existing.key);
      logger.info({ scheduler: existing.key, queue: queueName }, "job scheduler no longer declared; removed");
    }
  }
}
