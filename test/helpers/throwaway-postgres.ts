import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.ts";

const run = promisify(execFile);

/**
 * A Postgres server of the test's own, on a temporary directory and a free port, that the test may
 * stop and start at will (never the shared one on 5432). Trust auth, user `postgres`.
 */
export interface ThrowawayPostgres {
  port: number;
  /** The data directory (its parent also holds the socket and the server log). */
  dataDir: string;
  /** A connection URL for `database` (default `postgres`) as user `postgres`. */
  url(database?: string): string;
  start(): Promise<void>;
  /** `fast` ends sessions with "terminating connection due to administrator command"; `immediate` is a crash. */
  stop(mode?: "smart" | "fast" | "immediate"): Promise<void>;
  restart(mode?: "smart" | "fast" | "immediate"): Promise<void>;
  running(): boolean;
  /** The server's log so far (for failure messages). */
  log(): string;
  /** Stops the server (immediate) and deletes its directory. */
  cleanup(): Promise<void>;
}

/** The directory with initdb and pg_ctl: `PG_BIN`, else the newest /usr/lib/postgresql/<v>/bin, else PATH. */
export function findPostgresBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(path.join(debian, v, "bin", "pg_ctl")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], "bin");
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, "pg_ctl")) && existsSync(path.join(dir, "initdb"))) return dir;
  }
  return undefined;
}

/** initdb refuses to run as root: as root, run the server as the `postgres` OS user. */
function asServerUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

const live = new Set<() => void>();
let exitHookInstalled = false;
function stopAllOnExit() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test run that dies must not leave servers behind.
  process.once("exit", () => {
    for (const stop of live) stop();
  });
}

/** initdb's a new cluster and starts it. */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error("no Postgres server binaries (initdb, pg_ctl) found; set PG_BIN");
  const owner = asServerUser();
  const root = mkdtempSync(path.join(tmpdir(), "quarry-pg-"));
  const dataDir = path.join(root, "data");
  const logFile = path.join(root, "server.log");
  if (owner) chownSync(root, owner.uid, owner.gid);
  const exec = (tool: string, args: string[]) =>
    owner ? run("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);
  const execSync = (tool: string, args: string[]) =>
    owner
      ? execFileSync("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args], { stdio: "ignore" })
      : execFileSync(path.join(bin, tool), args, { stdio: "ignore" });

  await exec("initdb", ["-D", dataDir, "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const port = await freePort();
  // No fsync (only an OS crash loses data then), a small footprint. synchronous_commit stays on: a
  // `stop -m immediate` is a crash of Postgres, and commits it had acknowledged must survive it.
  const options = [`-p ${port}`, `-k ${root}`, "-c listen_addresses=127.0.0.1", "-c fsync=off", "-c full_page_writes=off", "-c shared_buffers=16MB"].join(" ");
  let running = false;

  const stopNow = () => {
    if (!running) return;
    try {
      execSync("pg_ctl", ["-D", dataDir, "stop", "-m", "immediate", "-w"]);
    } catch {
      // already stopped
    }
    running = false;
  };

  const pgServer: ThrowawayPostgres = {
    port,
    dataDir,
    url: (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async start() {
      await exec("pg_ctl", ["-D", dataDir, "-o", options, "-l", logFile, "-w", "-t", "60", "start"]);
      running = true;
      live.add(stopNow);
    },
    async stop(mode = "fast") {
      await exec("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);
      running = false;
      live.delete(stopNow);
    },
    async restart(mode = "fast") {
      await pgServer.stop(mode);
      await pgServer.start();
    },
    running: () => running,
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    async cleanup() {
      stopNow();
      live.delete(stopNow);
      rmSync(root, { recursive: true, force: true });
    },
  };
  stopAllOnExit();
  await pgServer.start();
  return pgServer;
}
