/**
 * What Quarry's job machinery costs per job, against raw BullMQ on the same Redis and concurrency,
 * in one process, alternating rounds:
 * - raw: `queue.add` of a no-op, a BullMQ Worker that returns at once;
 * - Quarry: the smallest job with a durable record, `delete_document` of a document that no
 *   longer exists (its processor makes two cheap queries). Per job: the payload's schema parse,
 *   the job row and BullMQ add in one transaction, the worker's run (row to running, progress,
 *   cancel checks), and the end (row, outbox, events) in one transaction.
 * Jobs are added CONCURRENCY at a time (as an api serving several clients adds them) and processed
 * at the same concurrency. Jobs per second from the first add to the last job ended (the row
 * `succeeded`, for Quarry).
 */
import { randomUUID } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { acceptWork, recordJob } from "../shared/use-cases/jobs.ts";
import { startTestStack } from "../test/helpers/app.ts";
import { dropDatabase, REDIS_URL, waitFor } from "../test/helpers/test-env.ts";
import { median } from "./stats.ts";

const JOBS = Number(process.env.QUEUE_BENCH_JOBS ?? 2000);
const ROUNDS = Number(process.env.QUEUE_BENCH_ROUNDS ?? 3);
const CONCURRENCY = 8;

/** `n` calls of `fn`, CONCURRENCY at a time: clients adding work side by side, as an api serves them. */
async function inParallel(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

async function rawBullmq(): Promise<number> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const name = `raw-bench-${randomUUID()}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const worker = new Worker(name, async () => undefined, { connection, concurrency: CONCURRENCY });
  worker.on("completed", () => {
    if (++done === JOBS) resolveAll();
  });
  await worker.waitUntilReady();
  const started = performance.now();
  await inParallel(JOBS, (i) => queue.add("noop", { i }, { removeOnComplete: true }));
  await all;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return JOBS / seconds;
}

async function quarry(stack: Awaited<ReturnType<typeof startTestStack>>): Promise<number> {
  const { deps } = stack;
  const collectionId = randomUUID();
  const started = performance.now();
  const ids: string[] = [];
  await inParallel(JOBS, async () => {
    const job = await acceptWork(deps, (tx) =>
      recordJob(deps, tx, {
        name: "delete_document",
        tenantId: "acme",
        payload: { tenant_id: "acme", collection_id: collectionId, document_id: randomUUID() },
        resource: { type: "document", id: randomUUID() },
      }),
    );
    ids.push(job.id);
  });
  await waitFor(
    async () => {
      const { rows } = await deps.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [ids]);
      return rows[0]!.n === JOBS ? true : undefined;
    },
    600_000,
    "Quarry's jobs to end",
  );
  return JOBS / ((performance.now() - started) / 1000);
}

/** Postgres commits per job (read-only ones included) and rows written per job, from pg_stat_database. */
async function writesPerJob(stack: Awaited<ReturnType<typeof startTestStack>>) {
  const name = new URL(stack.deps.config.DATABASE_URL).pathname.slice(1);
  const read = async () =>
    (await stack.deps.db.query<{ c: number; w: number }>(`SELECT xact_commit::int AS c, (tup_inserted + tup_updated + tup_deleted)::int AS w FROM pg_stat_database WHERE datname = $1`, [name])).rows[0]!;
  const before = await read();
  await quarry(stack);
  await new Promise((r) => setTimeout(r, 1_000)); // the statistics collector reports late
  const after = await read();
  return { commits: round((after.c - before.c) / JOBS, 2), rowsWritten: round((after.w - before.w) / JOBS, 2) };
}

export async function queueBench() {
  const env = { LOG_LEVEL: "warn", WORKER_CONCURRENCY: `ingest=${CONCURRENCY}` };
  const stack = await startTestStack({ workers: true, env });
  // The same, with Postgres told not to wait for the WAL flush at commit: how much of the cost is fsync.
  const url = new URL(stack.deps.config.DATABASE_URL);
  url.pathname = `${url.pathname}_async`;
  url.searchParams.set("options", "-c synchronous_commit=off");
  const asyncStack = await startTestStack({ workers: true, env: { ...env, DATABASE_URL: url.toString(), QUEUE_PREFIX: `{quarry-bench-async-${randomUUID()}}` } });
  try {
    await rawBullmq(); // warm-up, every side
    await quarry(stack);
    await quarry(asyncStack);
    const raw: number[] = [];
    const ours: number[] = [];
    const oursAsync: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(round(await rawBullmq()));
      ours.push(round(await quarry(stack)));
      oursAsync.push(round(await quarry(asyncStack)));
    }
    const rawMedian = median(raw);
    const oursMedian = median(ours);
    const overhead = round(rawMedian / oursMedian, 2);
    return {
      jobsPerRound: JOBS,
      concurrency: CONCURRENCY,
      jobsPerSecond: { rawBullmq: raw, quarry: ours, quarrySynchronousCommitOff: oursAsync },
      median: { rawBullmq: rawMedian, quarry: oursMedian, quarrySynchronousCommitOff: median(oursAsync) },
      perJobMs: { rawBullmq: round(1000 / rawMedian, 2), quarry: round(1000 / oursMedian, 2), quarrySynchronousCommitOff: round(1000 / median(oursAsync), 2) },
      postgresPerJob: await writesPerJob(stack),
      asyncStackSynchronousCommit: (await asyncStack.deps.db.query<{ synchronous_commit: string }>("SHOW synchronous_commit")).rows[0]!.synchronous_commit,
      overheadFactor: overhead,
      target: 1.5,
      met: overhead <= 1.5,
    };
  } finally {
    await stack.stop();
    await asyncStack.stop();
    await dropDatabase(url.toString().split("?")[0]!);
  }
}
