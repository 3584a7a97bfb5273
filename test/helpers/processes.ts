import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface QuarryProcess {
  child: ChildProcess;
  /** Every JSON log line the process has written so far. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  output(): string;
}

/** Spawns `node <script>` from the repository root with the given environment (same Node as the tests). */
export function spawnQuarry(script: string, env: Record<string, string>): QuarryProcess {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const waiters = new Set<() => void>();
  let buffer = "";
  child.stdout!.on("data", (data: Buffer) => {
    buffer += data.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      raw.push(line);
      try {
        logs.push(JSON.parse(line));
      } catch {
        // not a log line
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.on("data", (data: Buffer) => raw.push(data.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  return {
    child,
    logs,
    output: () => raw.join("\n"),
    waitForLog(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(match);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${script}: no matching log line in ${timeoutMs} ms; output:\n${raw.join("\n").slice(-3000)}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then((code) => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`${script} exited with ${code}; output:\n${raw.join("\n").slice(-3000)}`));
          }
        });
        check();
      });
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** An api and a worker as separate processes on one environment, both ready. */
export async function startApiAndWorker(env: Record<string, string>): Promise<{ api: QuarryProcess; worker: QuarryProcess; url: string; stop(): Promise<void> }> {
  const api = spawnQuarry("api/main.ts", env);
  const worker = spawnQuarry("workers/main.ts", env);
  let listening: Record<string, unknown>;
  try {
    listening = await api.waitForLog((l) => l.msg === "api listening");
    await worker.waitForLog((l) => l.msg === "worker ready");
  } catch (err) {
    // Neither may outlive a start that failed (nobody would ever stop them).
    await Promise.all([api.stop("SIGKILL"), worker.stop("SIGKILL")]);
    throw err;
  }
  return {
    api,
    worker,
    url: String(listening.url),
    async stop() {
      await worker.stop("SIGTERM");
      await api.stop("SIGTERM");
    },
  };
}
