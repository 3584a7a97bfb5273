import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";
import pg from "pg";
import { safeUrl, type Logger } from "../logging/logger.ts";
import { describeDbError, isDatabaseUnavailable } from "./pg-errors.ts";
import { ensureDatabase } from "./pool.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));

export interface WaitOptions {
  /** The first pause between attempts; it doubles up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** "waiting for postgres" is logged on the first failure, then at most this often. */
  logEveryMs?: number;
}

/**
 * Creates the database if needed and applies pending migrations. Several processes starting at
 * once are safe: node-pg-migrate holds a Postgres advisory lock and the others wait for it.
 * While Postgres is unreachable or starting up, it waits (see {@link waitForPostgres}).
 */
export async function migrate(databaseUrl: string, logger: Logger, options: WaitOptions = {}): Promise<string[]> {
  const names = await waitForPostgres(() => migrateOnce(databaseUrl, logger), databaseUrl, logger, options);
  if (names.length > 0) logger.info({ migrations: names }, "database migrated");
  return names;
}

/**
 * Runs `attempt` until it succeeds, as a process start does for Redis. Only errors that say
 * Postgres is unreachable, restarting or full ({@link isDatabaseUnavailable}) are retried, with
 * capped exponential backoff, forever: a platform restarting Postgres, or starting it after us, is
 * normal. Anything else — a wrong password, a missing role, no right to create the database, a
 * broken migration — cannot fix itself, so it is logged and thrown and the process exits.
 */
export async function waitForPostgres<T>(attempt: () => Promise<T>, databaseUrl: string, logger: Logger, options: WaitOptions = {}): Promise<T> {
  const { firstDelayMs = 200, maxDelayMs = 2_000, logEveryMs = 10_000 } = options;
  const started = Date.now();
  let lastLogged = -Infinity;
  for (let attempts = 1; ; attempts++) {
    try {
      const result = await attempt();
      if (attempts > 1) logger.info({ attempts, waited_ms: Date.now() - started }, "postgres answered");
      return result;
    } catch (err) {
      const postgres = safeUrl(databaseUrl);
      if (!isDatabaseUnavailable(err)) {
        logger.error({ err, postgres }, "postgres setup failed; not retrying (only an unreachable or starting server is waited for)");
        throw err;
      }
      if (Date.now() - lastLogged >= logEveryMs) {
        lastLogged = Date.now();
        logger.warn({ error: describeDbError(err), postgres, attempts, waited_ms: Date.now() - started }, "waiting for postgres");
      }
      await sleep(Math.min(firstDelayMs * 2 ** (attempts - 1), maxDelayMs));
    }
  }
}

async function migrateOnce(databaseUrl: string, logger: Logger): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  // Our own client rather than node-pg-migrate's, which has no `error` listener: a server that
  // ends the session between two of its queries would otherwise kill the process.
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on("error", () => undefined); // the runner's next query fails with it, and we retry
  await client.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: "up",
      migrationsTable: "quarry_migrations",
      advisoryLockMode: "wait",
      singleTransaction: true,
      checkOrder: true,
      log: () => undefined,
      logger: { debug: () => undefined, info: () => undefined, warn: (m: string) => logger.warn(m), error: (m: string) => logger.error(m) },
    });
    return applied.map((m) => m.name);
  } finally {
    await client.end().catch(() => undefined);
  }
}
