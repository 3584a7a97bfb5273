import { Router } from "express";
import type { Deps } from "../../shared/deps.ts";

const withTimeout = (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);

/** Liveness (`/health`) and readiness (`/ready`: Redis, Postgres and the vector store answer). */
export function healthRoutes(deps: Deps): Router {
  const router = Router();

  router.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });

  router.get("/ready", async (_req, res) => {
    const probes: Record<string, () => Promise<unknown>> = {
      redis: () => deps.redis.ping(),
      postgres: () => deps.db.query("SELECT 1"),
      vector_store: () => deps.vectorStore.ping(),
    };
    const entries = await Promise.all(
      Object.entries(probes).map(async ([name, probe]) => {
        try {
          await withTimeout(probe(), 2_000);
          return [name, { status: "ok" }] as const;
        } catch (err) {
          return [name, { status: "down", error: err instanceof Error ? err.message : String(err) }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const ready = entries.every(([, c]) => c.status === "ok");
    if (!ready) res.set("Retry-After", "5");
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", checks });
  });

  return router;
}
