import { createDeps } from "../shared/deps.ts";
import { configOrExit, onShutdown, processLogger } from "../shared/lifecycle.ts";
import { DEFAULT_OPS_PORT, startProcessOpsServer } from "../shared/ops/ops-server.ts";
import { startWorkers } from "./worker-pool.ts";

const config = configOrExit();
const logger = processLogger(config, "worker");
const deps = await createDeps(config, logger, { service: "worker" });
// Listen before taking jobs: an OPS_PORT already in use stops the process before it starts any work.
const ops = await startProcessOpsServer(deps, DEFAULT_OPS_PORT.worker);
const pool = await startWorkers(deps);
// Before the line that says it is ready: whoever reads that line may stop it at once.
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  await pool.close();
  // /health keeps answering while active jobs drain; /ready must never probe closed connections.
  await ops?.close();
  await deps.close();
});
logger.info({ queues: config.WORKER_QUEUES }, "worker ready");
