import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";
import type { Logger } from "../logging/logger.ts";
import { ensureDatabase } from "./pool.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));

/**
 * Creates the database if needed and applies pending migrations. Several processes starting at
 * once are safe: node-pg-migrate holds a Postgres advisory lock and the others wait for it.
 */
export async function migrate(databaseUrl: string, logger: Logger): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: "up",
    migrationsTable: "quarry_migrations",
    advisoryLockMode: "wait",
    singleTransaction: true,
    checkOrder: true,
    log: () => undefined,
    logger: { debug: () => undefined, info: () => undefined, warn: (m: string) => logger.warn(m), error: (m: string) => logger.error(m) },
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) logger.info({ migrations: names }, "database migrated");
  return names;
}
