import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { declareSchedules } from "../../scheduler/declare-schedules.ts";
import { schedules } from "../../scheduler/schedules.ts";
import { JobProducer } from "../../shared/queues/producer.ts";
import { spawnQuarry } from "../helpers/processes.ts";
import { createTestEnv, REDIS_URL } from "../helpers/test-env.ts";

const env = createTestEnv();
const redis = new Redis(REDIS_URL);
const producer = new JobProducer({ connection: redis, prefix: env.prefix, attempts: 3, logger: pino({ level: "silent" }) });
const silent = pino({ level: "silent" });
const config = { VECTOR_MAINTENANCE_EVERY_MS: 600_000, BACKUP_CRON: "0 2 * * *", BACKUP_TZ: "UTC" };
afterAll(async () => {
  await producer.close();
  redis.disconnect();
  await env.cleanup();
});

describe("the scheduler", () => {
  it("declares its job schedulers idempotently: running it twice leaves one of each", async () => {
    const list = schedules(config);
    await declareSchedules(producer, list, silent);
    await declareSchedules(producer, list, silent);
    const declared = await producer.queue("ingest").getJobSchedulers();
    expect(declared.map((s) => s.key).sort()).toEqual(["optimize-vectors"]);
    expect(declared.find((s) => s.key === "optimize-vectors")).toMatchObject({ every: 600_000, name: "optimize_vectors" });
    // Each scheduler keeps exactly one upcoming job (an `every` scheduler's first one is due at once).
    const counts = await producer.queue("ingest").getJobCounts("waiting", "delayed");
    expect((counts.waiting ?? 0) + (counts.delayed ?? 0)).toBe(1);
    const backups = await producer.queue("backup").getJobSchedulers();
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ key: "nightly-backup", name: "schedule_backup", pattern: "0 2 * * *", tz: "UTC" });
  });

  it("removes a scheduler that is no longer declared (renamed, dropped, or BACKUP_CRON=off)", async () => {
    // An older release declared `reconcile-jobs`; this one heals job records in every process instead.
    await producer.queue("ingest").upsertJobScheduler("reconcile-jobs", { every: 300_000 }, { name: "optimize_vectors", data: {} });
    expect((await producer.queue("ingest").getJobSchedulers()).map((s) => s.key).sort()).toEqual(["optimize-vectors", "reconcile-jobs"]);
    await declareSchedules(producer, schedules(config), silent);
    // (A job it had already made due stays queued and runs once; no further ones are made.)
    expect((await producer.queue("ingest").getJobSchedulers()).map((s) => s.key)).toEqual(["optimize-vectors"]);
    await declareSchedules(producer, schedules({ ...config, BACKUP_CRON: "off" }), silent);
    expect(await producer.queue("backup").getJobSchedulers()).toEqual([]);
    expect((await producer.queue("backup").getJobCounts("delayed")).delayed).toBe(0);
  });

  it("registers the nightly backup once when two schedulers start at the same moment", async () => {
    const fresh = createTestEnv({ BACKUP_CRON: "30 3 * * *", BACKUP_TZ: "Europe/Berlin", LOG_LEVEL: "info" });
    const schedulers = [spawnQuarry("scheduler/main.ts", fresh.env), spawnQuarry("scheduler/main.ts", fresh.env)];
    const queue = new JobProducer({ connection: redis, prefix: fresh.prefix, attempts: 3, logger: silent });
    try {
      await Promise.all(schedulers.map((s) => s.waitForLog((l) => l.msg === "scheduler ready; BullMQ workers run the scheduled jobs", 60_000)));
      const declared = await queue.queue("backup").getJobSchedulers();
      expect(declared).toHaveLength(1);
      expect(declared[0]).toMatchObject({ key: "nightly-backup", pattern: "30 3 * * *", tz: "Europe/Berlin" });
      // One upcoming run, at 03:30 in Berlin.
      const delayed = await queue.queue("backup").getJobs(["delayed", "waiting"]);
      expect(delayed).toHaveLength(1);
      const at = new Date(delayed[0]!.timestamp + (delayed[0]!.delay ?? 0));
      expect(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit" }).format(at)).toBe("03:30");
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
      await queue.close();
      await fresh.cleanup();
    }
  });
});
