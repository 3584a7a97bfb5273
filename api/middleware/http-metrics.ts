import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Metrics } from "../../shared/ops/metrics.ts";

/** The `route` label of a request no route answered (404s, and refusals before routing such as 401). */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * Times every request into `quarry_http_request_duration_seconds`, labelled with the route
 * template that answered it (`/v1/collections/:id/documents`), never the raw URL: ids would make
 * a series per resource. A request the client gave up on before any answer is `status="aborted"`.
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.once("close", () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : UNMATCHED_ROUTE;
      const status = res.headersSent ? String(res.statusCode) : "aborted";
      metrics.httpRequest(req.method, route, status, (performance.now() - started) / 1000);
    });
    next();
  };
}
