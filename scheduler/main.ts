import { createDeps } from "../shared/deps.ts";
import { configOrExit, onShutdown, processLogger } from "../shared/lifecycle.ts";
import { declareSchedules } from "./declare-schedules.ts";
import { schedules } from "./schedules.ts";

const config = configOrExit();
const logger = processLogger(config, "scheduler");
const deps = await createDeps(config, logger);
await declareSchedules(deps.producer, schedules(config), logger);
logger.info("scheduler ready; BullMQ workers run the scheduled jobs");

// The schedules live in Redis; this process stays up so a platform (Procfile, compose) sees it
// healthy and it re-declares them after a Redis loss on its next start.
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, () => deps.close());
