import { createDeps } from "../shared/deps.ts";
import { configOrExit, onShutdown, processLogger } from "../shared/lifecycle.ts";
import { DEV_API_KEY } from "../shared/config/env.ts";
import { startWebServer, stopWebServer } from "./server.ts";

const config = configOrExit();
const logger = processLogger(config, "api");
const deps = await createDeps(config, logger, { service: "api" });
// Queue depth and live consumers, read at scrape time; workers leave them to the api and the scheduler.
deps.metrics.watchQueues(deps.producer);
const { server, url } = await startWebServer(deps);
// Before the line that says it is ready: whoever reads that line may stop it at once.
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  await stopWebServer(server);
  await deps.close();
});
logger.info({ url, port: Number(new URL(url).port) }, "api listening");
if (config.usingDevApiKey) logger.warn(`API_KEYS is not set: using the development key "${DEV_API_KEY}" for tenant "dev"`);
