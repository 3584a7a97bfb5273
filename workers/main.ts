import { createDeps } from "../shared/deps.ts";
import { configOrExit, onShutdown, processLogger } from "../shared/lifecycle.ts";
import { startWorkers } from "./worker-pool.ts";

const config = configOrExit();
const logger = processLogger(config, "worker");
const deps = await createDeps(config, logger);
const pool = await startWorkers(deps);
logger.info({ queues: config.WORKER_QUEUES }, "worker ready");

onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  await pool.close();
  await deps.close();
});
