import { createDeps } from "../shared/deps.ts";
import { configOrExit, onShutdown, processLogger } from "../shared/lifecycle.ts";
import { useHousekeeper } from "../shared/jobs/housekeeper.ts";
import { DEFAULT_OPS_PORT, startProcessOpsServer } from "../shared/ops/ops-server.ts";
import { declareSchedules } from "./declare-schedules.ts";
import { schedules } from "./schedules.ts";

const config = configOrExit();
const logger = processLogger(config, "scheduler");
const deps = await createDeps(config, logger, { service: "scheduler" });
deps.metrics.watchQueues(deps.producer);
// The scheduler owns the nightly backup, so it alone reports the backup's age (one series, not one per process).
if (config.BACKUP_CRON !== "off") deps.metrics.watchBackups(deps.backups);
const ops = await startProcessOpsServer(deps, DEFAULT_OPS_PORT.scheduler);
await declareSchedules(deps.producer, schedules(config), logger);
const releaseHousekeeper = useHousekeeper(deps);
// Before the line that says it is ready: whoever reads that line may stop it at once.
// The schedules live in Redis; this process stays up so a platform (Procfile, compose) sees it
// healthy and it re-declares them after a Redis loss on its next start.
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  await releaseHousekeeper();
  await ops?.close();
  await deps.close();
});
logger.info("scheduler ready; BullMQ workers run the scheduled jobs");
