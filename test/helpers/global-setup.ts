import pg from "pg";
import { Redis } from "ioredis";

/** Fails fast, with a useful message, when the suite runs on the wrong Node or without its services. */
export default async function setup() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 24) {
    throw new Error(`Quarry's tests need Node >= 24 (got ${process.version}). Run them through npm (\`npm test\`), which puts the pinned Node 24 on PATH.`);
  }
  const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable at ${redisUrl} (${(err as Error).message}); .ci/run starts it`);
  } finally {
    redis.disconnect();
  }
  const pgUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const client = new pg.Client({ connectionString: pgUrl });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`Postgres is not reachable at ${pgUrl} (${(err as Error).message}); .ci/run starts it`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
