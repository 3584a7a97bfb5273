import type { Deps } from "../deps.ts";

/** What `/ready` probes: the same three answers on the api and on the ops listener. */
export type ReadinessDeps = Pick<Deps, "redis" | "db" | "vectorStore">;

export type ReadinessCheck = { status: "ok" } | { status: "down"; error: string };

/** The body of `/ready`; `ready` decides 200 vs 503. */
export interface ReadinessReport {
  ready: boolean;
  status: "ready" | "unavailable";
  checks: Record<"redis" | "postgres" | "vector_store", ReadinessCheck>;
}

/** Seconds a caller should wait before asking again after a 503 (the `Retry-After` header). */
export const READY_RETRY_AFTER_S = 5;

const withTimeout = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);

/** Asks Redis, Postgres and the vector store at once; each must answer within `timeoutMs`. */
export async function checkReadiness(deps: ReadinessDeps, timeoutMs = 2_000): Promise<ReadinessReport> {
  const probes = {
    redis: () => deps.redis.ping(),
    postgres: () => deps.db.query("SELECT 1"),
    vector_store: () => deps.vectorStore.ping(),
  };
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]): Promise<[string, ReadinessCheck]> => {
      try {
        await withTimeout(probe(), timeoutMs);
        return [name, { status: "ok" }];
      } catch (err) {
        return [name, { status: "down", error: err instanceof Error ? err.message : String(err) }];
      }
    }),
  );
  const ready = entries.every(([, c]) => c.status === "ok");
  return { ready, status: ready ? "ready" : "unavailable", checks: Object.fromEntries(entries) as ReadinessReport["checks"] };
}
