import pg from "pg";

export type Db = pg.Pool;

// count(*) and bigint columns arrive as strings by default; ours fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * A connection pool that survives Postgres going away. pg-pool listens for `error` on a client only
 * while it is idle; a client that is checked out (a transaction, possibly waiting on Redis) when the
 * server ends its session ("terminating connection due to administrator command") emits `error`
 * with no listener, and that kills the process. So every client gets a listener of its own for its
 * whole life, from the pool's `connect` event: the query in flight, or the next one, fails anyway
 * and the pool drops the broken client when it is released, so the listener only reports.
 * `onError` hears of connection errors at most every 10 s: an outage repeats the same error many times.
 */
export function createPool(databaseUrl: string, onError: (err: Error) => void, max = 10): Db {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  let lastReported = 0;
  const report = (err: Error) => {
    if (Date.now() - lastReported < 10_000) return;
    lastReported = Date.now();
    onError(err);
  };
  pool.on("error", report);
  pool.on("connect", (client) => client.on("error", report));
  return pool;
}

/** Creates the database named in the URL when it is missing; safe when several processes race. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!name) throw new Error("DATABASE_URL names no database");
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  // A session the server ends between two queries emits `error`; the next query fails with it anyway.
  client.on("error", () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } catch (err) {
    // 42P04 duplicate_database, 23505 unique_violation: another process won the race.
    const code = (err as { code?: string }).code;
    if (code !== "42P04" && code !== "23505") throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}
