import type { JobProducer } from "../shared/queues/producer.ts";
import { jobSchemas } from "../shared/queues/job-schemas.ts";
import type { Logger } from "../shared/logging/logger.ts";
import type { Schedule } from "./schedules.ts";

/** Declares each schedule with `upsertJobScheduler`: idempotent, so running it twice is harmless. */
export async function declareSchedules(producer: JobProducer, list: Schedule[], logger: Logger): Promise<void> {
  for (const schedule of list) {
    const { queue, options } = producer.definition(schedule.job);
    await producer.queue(queue).upsertJobScheduler(schedule.id, schedule.repeat, {
      name: schedule.job,
      data: jobSchemas[schedule.job].parse(schedule.payload),
      opts: options,
    });
    logger.info({ scheduler: schedule.id, job: schedule.job, repeat: schedule.repeat }, "job scheduler declared");
  }
}
