import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { declareSchedules } from "../../scheduler/declare-schedules.ts";
import { schedules } from "../../scheduler/schedules.ts";
import { JobProducer } from "../../shared/queues/producer.ts";
import { createTestEnv, REDIS_URL } from "../helpers/test-env.ts";

const env = createTestEnv();
const redis = new Redis(REDIS_URL);
const producer = new JobProducer({ connection: redis, prefix: env.prefix, attempts: 3, logger: pino({ level: "silent" }) });
afterAll(async () => {
  await producer.close();
  redis.disconnect();
  await env.cleanup();
});

describe("the scheduler", () => {
  it("declares its job schedulers idempotently: running it twice leaves one of each", async () => {
    const list = schedules({ VECTOR_MAINTENANCE_EVERY_MS: 600_000 });
    await declareSchedules(producer, list, pino({ level: "silent" }));
    await declareSchedules(producer, list, pino({ level: "silent" }));
    const declared = await producer.queue("ingest").getJobSchedulers();
    expect(declared.map((s) => s.key).sort()).toEqual(["optimize-vectors"]);
    expect(declared.find((s) => s.key === "optimize-vectors")).toMatchObject({ every: 600_000, name: "optimize_vectors" });
    // Each scheduler keeps exactly one upcoming job (an `every` scheduler's first one is due at once).
    const counts = await producer.queue("ingest").getJobCounts("waiting", "delayed");
    expect((counts.waiting ?? 0) + (counts.delayed ?? 0)).toBe(1);
  });

  it("removes a scheduler that is no longer declared (renamed or dropped)", async () => {
    // An older release declared `reconcile-jobs`; this one heals job records in every process instead.
    await producer.queue("ingest").upsertJobScheduler("reconcile-jobs", { every: 300_000 }, { name: "optimize_vectors", data: {} });
    expect((await producer.queue("ingest").getJobSchedulers()).map((s) => s.key).sort()).toEqual(["optimize-vectors", "reconcile-jobs"]);
    await declareSchedules(producer, schedules({ VECTOR_MAINTENANCE_EVERY_MS: 600_000 }), pino({ level: "silent" }));
    // (A job it had already made due stays queued and runs once; no further ones are made.)
    expect((await producer.queue("ingest").getJobSchedulers()).map((s) => s.key)).toEqual(["optimize-vectors"]);
  });
});
