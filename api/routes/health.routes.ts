import { Router } from "express";
import type { Deps } from "../../shared/deps.ts";
import { checkReadiness, READY_RETRY_AFTER_S } from "../../shared/ops/readiness.ts";

/** Liveness (`/health`) and readiness (`/ready`: Redis, Postgres and the vector store answer). */
export function healthRoutes(deps: Deps): Router {
  const router = Router();

  router.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });

  router.get("/ready", async (_req, res) => {
    const { ready, status, checks } = await checkReadiness(deps);
    if (!ready) res.set("Retry-After", String(READY_RETRY_AFTER_S));
    res.status(ready ? 200 : 503).json({ status, checks });
  });

  return router;
}
