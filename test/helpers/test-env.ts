import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { Redis } from "ioredis";

export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const PG_BASE = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export const TEST_KEYS = { acme: "acme-key-0001", globex: "globex-key-0002" } as const;

/** A unique database, queue prefix and data directory for one test file. */
export interface TestEnv {
  id: string;
  env: Record<string, string>;
  databaseUrl: string;
  prefix: string;
  dataDir: string;
  cleanup(): Promise<void>;
}

export function createTestEnv(overrides: Record<string, string> = {}): TestEnv {
  const id = `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const url = new URL(PG_BASE);
  url.pathname = `/quarry_${id}`;
  const databaseUrl = url.toString();
  const prefix = `{quarry-test-${id}}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), `quarry-${id}-`));
  const env = {
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    DATA_DIR: dataDir,
    API_KEYS: `acme:${TEST_KEYS.acme},globex:${TEST_KEYS.globex}`,
    PORT: "0",
    OPS_PORT: "0",
    HOST: "127.0.0.1",
    ...overrides,
  };
  return {
    id,
    env,
    databaseUrl,
    prefix,
    dataDir,
    async cleanup() {
      await dropDatabase(databaseUrl);
      await deleteKeys(prefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Drops a test database, closing whatever is still connected to it. */
export async function dropDatabase(databaseUrl: string) {
  const name = new URL(databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: PG_BASE });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Deletes every Redis key under a queue prefix. */
export async function deleteKeys(prefix: string) {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
