/**
 * Telling "Postgres cannot be reached right now" (retry later, answer 503) from every other
 * database error (a bug, bad input, a wrong configuration).
 */

/** Socket errors of a connection to Postgres that is refused, cut or unanswered. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  // Name resolution: in compose or Kubernetes a service's name resolves only once it runs.
  "EAI_AGAIN",
  "ENOTFOUND",
]);

/**
 * SQLSTATEs of a server that is going away, coming up or full: 57P01 admin_shutdown ("terminating
 * connection due to administrator command"), 57P02 crash_shutdown, 57P03 cannot_connect_now ("the
 * database system is starting up" / "shutting down" / "in recovery mode"), 57P05
 * idle_session_timeout, 53300 too_many_connections. Class 08 (connection exceptions) is matched
 * as a class.
 */
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "57P05", "53300"]);

/** node-postgres's own messages for connections that ended, timed out or broke. */
const MESSAGES = [
  /^Connection terminated/, // "Connection terminated", "… unexpectedly", "… due to connection timeout"
  /^timeout exceeded when trying to connect$/, // pg-pool: no client within connectionTimeoutMillis
  /^timeout expired$/, // pg.Client: connect took longer than connectionTimeoutMillis
  /^Client has encountered a connection error and is not queryable$/,
];

/**
 * True when `err` says Postgres is unreachable, restarting, shutting down or out of connections —
 * a condition that passes by itself, so the right answer is 503 + Retry-After and the right
 * startup behaviour is to wait. False for everything else, notably authentication and
 * authorization failures (28P01, 28000), a missing database (3D000) or role, and SQL errors: those
 * do not fix themselves.
 *
 * Only the error itself (and the attempts of an `AggregateError`, which Node raises when every
 * address of a host refused) is inspected, not its `cause` chain: the `cause` of a failed `fetch` to
 * Qdrant or an embedding provider is a socket error too, and that is not a database outage.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const { code, message, syscall } = err as { code?: unknown; message?: unknown; syscall?: unknown };
  if (typeof code === "string") {
    // Only a socket's own error (it names its syscall): Node's "aborted" of an HTTP request the client
    // dropped is an ECONNRESET too, with no syscall, and is no database outage.
    if (NETWORK_CODES.has(code) && typeof syscall === "string") return true;
    // A Unix socket whose server is down has no socket file.
    if (code === "ENOENT" && syscall === "connect") return true;
    if (/^[0-9A-Z]{5}$/.test(code) && (code.startsWith("08") || SQLSTATES.has(code))) return true;
  }
  if (typeof message === "string" && MESSAGES.some((m) => m.test(message))) return true;
  if (err instanceof AggregateError) return err.errors.some((e) => isDatabaseUnavailable(e));
  return false;
}

/** A short description of a database error for a log line: its message and code, no stack. */
export function describeDbError(err: unknown): { message: string; code?: string } {
  // Node's AggregateError (every address of a host refused) has an empty message of its own.
  const inner = err instanceof AggregateError && !err.message ? err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join("; ") : "";
  const message = err instanceof Error ? err.message || inner || err.name : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? { message, code } : { message };
}
