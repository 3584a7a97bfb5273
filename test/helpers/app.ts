import { startWebServer, stopWebServer } from "../../api/server.ts";
import { loadConfig } from "../../shared/config/env.ts";
import { createDeps, type Deps } from "../../shared/deps.ts";
import { createLogger } from "../../shared/logging/logger.ts";
import { startWorkers, type WorkerPool } from "../../workers/worker-pool.ts";
import { createTestEnv, type TestEnv } from "./test-env.ts";

export interface TestStack {
  env: TestEnv;
  deps: Deps;
  url: string;
  workers?: WorkerPool;
  stop(): Promise<void>;
}

/** The API on a free port with real Postgres, Redis and vector store; optionally in-process workers. */
export async function startTestStack(options: { workers?: boolean; env?: Record<string, string>; housekeeping?: boolean } = {}): Promise<TestStack> {
  const env = createTestEnv(options.env);
  const config = loadConfig(env.env);
  const deps = await createDeps(config, createLogger(config, "test"));
  const { server, url } = await startWebServer(deps, 0, "127.0.0.1", { housekeeping: options.housekeeping });
  const workers = options.workers ? await startWorkers(deps) : undefined;
  return {
    env,
    deps,
    url,
    workers,
    async stop() {
      await stopWebServer(server);
      await workers?.close();
      await deps.close();
      await env.cleanup();
    },
  };
}
