import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Deps } from "../deps.ts";
import type { Metrics } from "./metrics.ts";
import { checkReadiness, READY_RETRY_AFTER_S, type ReadinessDeps } from "./readiness.ts";

/** Answers one ops route. */
export type OpsRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * `OPS_PORT` when it is unset: workers take 9464 (Prometheus' customary exporter port) and the
 * scheduler the next one, so a worker and a scheduler on one machine do not collide.
 */
export const DEFAULT_OPS_PORT = { worker: 9464, scheduler: 9465 } as const;

export interface OpsServerOptions {
  /** 0 picks a free port. */
  port: number;
  host: string;
  deps: ReadinessDeps;
  /** More GET routes by exact path (`/metrics` goes here); `/health` and `/ready` are built in. */
  routes?: Record<string, OpsRoute>;
  /** Called when a route throws; the caller answers 500 regardless. */
  onError?: (err: unknown) => void;
}

export interface OpsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store", ...headers });
  res.end(text);
};

/**
 * The small HTTP listener of a worker or scheduler process: `/health` (liveness), `/ready`
 * (Redis, Postgres and the vector store answer, else 503 with Retry-After — the api's answer) and
 * whatever `routes` adds. The api serves the same routes on its own port and needs none of this.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const routes: Record<string, OpsRoute> = {
    "/health": (_req, res) => sendJson(res, 200, { status: "ok" }),
    "/ready": async (_req, res) => {
      const { ready, status, checks } = await checkReadiness(options.deps);
      sendJson(res, ready ? 200 : 503, { status, checks }, ready ? {} : { "Retry-After": String(READY_RETRY_AFTER_S) });
    },
    ...options.routes,
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://ops").pathname;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `no ops route ${path}` } });
    if (req.method !== "GET" && req.method !== "HEAD") {
      return sendJson(res, 405, { error: { code: "METHOD_NOT_ALLOWED", message: "ops routes answer GET only" } }, { Allow: "GET, HEAD" });
    }
    Promise.resolve()
      .then(() => route(req, res))
      .catch((err: unknown) => {
        options.onError?.(err);
        if (!res.headersSent) sendJson(res, 500, { error: { code: "INTERNAL", message: "the ops route failed" } });
        else res.destroy();
      });
  });
  // Probes open a connection every few seconds: never let a kept-alive one hold shutdown open.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new Error(`the ops listener cannot listen on ${options.host}:${options.port} (set OPS_PORT to a free port, or 0 for any): ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const shownHost = address.address === "0.0.0.0" || address.address === "::" ? "127.0.0.1" : address.address.includes(":") ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** `/metrics`: the process's registry in Prometheus' text format. */
export function metricsRoute(metrics: Metrics): OpsRoute {
  return async (req, res) => {
    const text = await metrics.render();
    res.writeHead(200, { "Content-Type": metrics.contentType, "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : text);
  };
}

/**
 * Starts the ops listener of a worker or the scheduler on `OPS_PORT` (bound to `HOST`) and logs
 * `ops listening` with its url. It serves `/metrics` when `deps` has the process's metrics. An explicit `OPS_PORT` that cannot be had stops the process (it
 * throws); the default port taken by a sibling process on the same machine (a second worker on a
 * laptop) only warns, and the process runs without the listener, as before there was one.
 */
export async function startProcessOpsServer(
  deps: Pick<Deps, "config" | "logger"> & Partial<Pick<Deps, "metrics">> & ReadinessDeps,
  defaultPort: number,
): Promise<OpsServer | undefined> {
  const { config, logger, metrics } = deps;
  const port = config.OPS_PORT ?? defaultPort;
  try {
    const routes: Record<string, OpsRoute> = metrics ? { "/metrics": metricsRoute(metrics) } : {};
    const ops = await startOpsServer({ port, host: config.HOST, deps, routes, onError: (err) => logger.error({ err }, "ops route failed") });
    logger.info({ url: ops.url }, "ops listening");
    return ops;
  } catch (err) {
    const inUse = err instanceof Error && (err.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE";
    if (config.OPS_PORT !== undefined || !inUse) throw err;
    logger.warn({ port }, `the default ops port ${port} is in use (another Quarry process on this machine?): no /health or /ready for this process; set OPS_PORT to a free port, or 0 for any`);
    return undefined;
  }
}
