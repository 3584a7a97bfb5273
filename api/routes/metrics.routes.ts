import { Router } from "express";
import type { Deps } from "../../shared/deps.ts";

/** `GET /metrics`: this process's metrics in Prometheus' text format, unauthenticated like /health. */
export function metricsRoutes(deps: Pick<Deps, "metrics">): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    const text = await deps.metrics.render();
    res.set({ "Content-Type": deps.metrics.contentType, "Cache-Control": "no-store" }).send(text);
  });
  return router;
}
