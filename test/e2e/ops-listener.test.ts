import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config/env.ts";
import { startOpsServer, startProcessOpsServer } from "../../shared/ops/ops-server.ts";
import type { ReadinessDeps } from "../../shared/ops/readiness.ts";
import { apiClient } from "../helpers/http.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv } from "../helpers/test-env.ts";

const env = createTestEnv({ LOG_LEVEL: "info", OPS_PORT: "0" });
const started: QuarryProcess[] = [];
afterAll(async () => {
  for (const p of started) await p.stop("SIGKILL");
  await env.cleanup();
});

describe("the ops listener of workers and the scheduler", () => {
  it.each([
    ["workers/main.ts", "worker ready"],
    ["scheduler/main.ts", "scheduler ready; BullMQ workers run the scheduled jobs"],
  ])("%s answers /health and /ready on OPS_PORT and stops listening on SIGTERM", { timeout: 60_000 }, async (script, readyMsg) => {
    const proc = spawnQuarry(script, env.env);
    started.push(proc);
    const url = String((await proc.waitForLog((l) => l.msg === "ops listening")).url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await proc.waitForLog((l) => l.msg === readyMsg);
    const ops = apiClient(url);

    const health = await ops.get("/health");
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: "ok" });

    const ready = await ops.get("/ready");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready", checks: { redis: { status: "ok" }, postgres: { status: "ok" }, vector_store: { status: "ok" } } });

    expect((await ops.get("/nope")).status).toBe(404);
    expect(await proc.stop("SIGTERM")).toBe(0);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

describe("startOpsServer", () => {
  const deps = (vectorStorePing: () => Promise<void>) =>
    ({ redis: { ping: async () => "PONG" }, db: { query: async () => ({ rows: [] }) }, vectorStore: { ping: vectorStorePing } }) as unknown as ReadinessDeps;

  it("answers /ready with 503, Retry-After and the dependency that is down", async () => {
    const ops = await startOpsServer({ port: 0, host: "127.0.0.1", deps: deps(() => Promise.reject(new Error("store is gone"))) });
    try {
      const res = await apiClient(ops.url).get("/ready");
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(res.body).toEqual({
        status: "unavailable",
        checks: { redis: { status: "ok" }, postgres: { status: "ok" }, vector_store: { status: "down", error: "store is gone" } },
      });
    } finally {
      await ops.close();
    }
  });

  it("serves extra routes (the seam for /metrics) and refuses a port in use, naming OPS_PORT", async () => {
    const ops = await startOpsServer({
      port: 0,
      host: "127.0.0.1",
      deps: deps(async () => {}),
      routes: { "/metrics": (_req, res) => void res.end("up 1\n") },
    });
    try {
      expect((await apiClient(ops.url).get("/metrics")).text).toBe("up 1\n");
      expect((await apiClient(ops.url).post("/health")).status).toBe(405);
      const port = Number(new URL(ops.url).port);
      await expect(startOpsServer({ port, host: "127.0.0.1", deps: deps(async () => {}) })).rejects.toThrow(/OPS_PORT.*EADDRINUSE/);
    } finally {
      await ops.close();
    }
  });

  it("a worker whose default port is taken runs on with a warning; an explicit OPS_PORT in use stops it", async () => {
    const held = await startOpsServer({ port: 0, host: "127.0.0.1", deps: deps(async () => {}) });
    const port = Number(new URL(held.url).port);
    const warnings: unknown[] = [];
    const logger = { info: () => {}, error: () => {}, warn: (...args: unknown[]) => warnings.push(args) };
    const processDeps = (opsPort?: string) => ({
      ...deps(async () => {}),
      config: loadConfig({ HOST: "127.0.0.1", ...(opsPort ? { OPS_PORT: opsPort } : {}) }),
      logger: logger as never,
    });
    try {
      expect(await startProcessOpsServer(processDeps(), port)).toBeUndefined();
      expect(JSON.stringify(warnings)).toContain("set OPS_PORT");
      await expect(startProcessOpsServer(processDeps(String(port)), 9464)).rejects.toThrow(/OPS_PORT/);
    } finally {
      await held.close();
    }
  });
});
