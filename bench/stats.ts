import { readdirSync, readFileSync } from "node:fs";

/** Percentiles (nearest rank) of a list of milliseconds, rounded to 0.1 ms. */
export function percentiles(samples: number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 10) / 10;
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

/** The middle value (the upper one of an even count), as every bench here reports it. */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A process's resident memory now (VmRSS) or at its peak (VmHWM), in MB, from /proc. */
export function memoryMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/**
 * CPU seconds of each live thread of a process, by thread id, with its name (`node`,
 * `WorkerThread`, `V8Worker`, LanceDB's `tokio-rt-worker`, …), from /proc/<pid>/task.
 */
export function threadCpuSeconds(pid: number): Map<string, { name: string; seconds: number }> {
  const threads = new Map<string, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    threads.set(tid, { name, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
  }
  return threads;
}

/**
 * CPU used between two readings, by thread name, rounded to 0.1 s, largest first (under 0.05 s
 * left out). A thread that started in between counts whole; what threads that ended in between
 * used is `exited` (the process's CPU, which counts them, less what the live threads used).
 */
export function threadCpuDelta(
  before: Map<string, { name: string; seconds: number }>,
  after: Map<string, { name: string; seconds: number }>,
  processSeconds: number,
): Record<string, number> {
  const byName: Record<string, number> = {};
  let live = 0;
  for (const [tid, { name, seconds }] of after) {
    const used = seconds - (before.get(tid)?.seconds ?? 0);
    byName[name] = (byName[name] ?? 0) + used;
    live += used;
  }
  byName.exited = processSeconds - live;
  return Object.fromEntries(
    Object.entries(byName)
      .map(([name, s]) => [name, Math.round(s * 10) / 10] as const)
      .filter(([, s]) => s >= 0.05)
      .sort((a, b) => b[1] - a[1]),
  );
}
