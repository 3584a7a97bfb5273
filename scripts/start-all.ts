/**
 * `npm start`: the API, a worker serving every queue and the scheduler in one process, with the
 * embedded defaults, for a first run. Production runs them as separate processes (Procfile).
 * One listener only: the api's port serves /health, /ready and /metrics for all three, so
 * OPS_PORT is ignored here — the ops listener is for workers and schedulers running on their own.
 */
import { startWebServer, stopWebServer } from "../api/server.ts";
import { declareSchedules } from "../scheduler/declare-schedules.ts";
import { schedules } from "../scheduler/schedules.ts";
import { DEV_API_KEY } from "../shared/config/env.ts";
import { createDeps } from "../shared/deps.ts";
import { configOrExit, onShutdown, processLogger } from "../shared/lifecycle.ts";
import { startWorkers } from "../workers/worker-pool.ts";

const config = configOrExit();
const logger = processLogger(config, "quarry");
const deps = await createDeps(config, logger, { service: "all" });
deps.metrics.watchQueues(deps.producer);
if (config.BACKUP_CRON !== "off") deps.metrics.watchBackups(deps.backups);
const pool = await startWorkers(deps);
await declareSchedules(deps.producer, schedules(config), logger);
const { server, url } = await startWebServer(deps);
// Before the line that says it is ready: whoever reads that line may stop it at once.
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  await stopWebServer(server);
  await pool.close();
  await deps.close();
});
logger.info({ url }, "api listening");

const key = config.usingDevApiKey ? DEV_API_KEY : "<one of your API_KEYS>";
process.stdout.write(`
Quarry is running at ${url}  (api + worker + scheduler in one process; Ctrl-C stops it)
${config.usingDevApiKey ? `API_KEYS is not set, so the development key "${DEV_API_KEY}" works (tenant "dev").\n` : ""}
Try it:
  curl -s -X POST ${url}/v1/collections -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"name":"notes"}'
  curl -s -X POST ${url}/v1/collections/<id>/documents -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"text":"Quarry queues documents in BullMQ."}'
  curl -s -X POST ${url}/v1/collections/<id>/documents -H 'Authorization: Bearer ${key}' -F file=@some.pdf
  curl -s ${url}/v1/jobs/<job id> -H 'Authorization: Bearer ${key}'
  curl -s -X POST ${url}/v1/collections/<id>/search -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"query":"what queues documents?"}'
  curl -s -X POST ${url}/v1/chat -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d '{"collection_ids":["<id>"],"message":"What queues documents?"}'
API guide: docs/api.md

`);
