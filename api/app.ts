import { randomUUID } from "node:crypto";
import cors from "cors";
import express, { type Express } from "express";
import { pinoHttp } from "pino-http";
import type { Deps } from "../shared/deps.ts";
import { requireApiKey } from "./middleware/auth.ts";
import { errorHandler, notFoundHandler } from "./middleware/errors.ts";
import { httpMetrics } from "./middleware/http-metrics.ts";
import { idempotency } from "./middleware/idempotency.ts";
import { jsonBody } from "./middleware/json-body.ts";
import { rateLimits } from "./middleware/rate-limits.ts";
import { securityHeaders } from "./middleware/security-headers.ts";
import { backupsRoutes } from "./routes/backups.routes.ts";
import { bullBoardRoutes } from "./routes/bull-board.routes.ts";
import { chatRoutes } from "./routes/chat.routes.ts";
import { collectionsRoutes } from "./routes/collections.routes.ts";
import { docsRoutes } from "./routes/docs.routes.ts";
import { documentsRoutes } from "./routes/documents.routes.ts";
import { embeddingsRoutes } from "./routes/embeddings.routes.ts";
import { healthRoutes } from "./routes/health.routes.ts";
import { jobsRoutes } from "./routes/jobs.routes.ts";
import { metricsRoutes } from "./routes/metrics.routes.ts";
import { openAiFilesRoutes } from "./routes/openai-files.routes.ts";
import { searchRoutes } from "./routes/search.routes.ts";
import { vectorStoreFilesRoutes } from "./routes/vector-store-files.routes.ts";
import { vectorStoresRoutes } from "./routes/vector-stores.routes.ts";
import { workflowsRoutes } from "./routes/workflows.routes.ts";

/** The upload route: it takes multipart as well as JSON (and claims a multipart upload's Idempotency-Key itself). */
const UPLOAD_ROUTE = /^\/v1\/collections\/[^/]+\/documents\/?$/i;
/** OpenAI's file upload: multipart only (and it claims its Idempotency-Key itself). */
const FILE_UPLOAD_ROUTE = /^\/v1\/files\/?$/i;
/** POST routes that only read: an Idempotency-Key on them is ignored. */
const IDEMPOTENCY_READS = [/^\/v1\/collections\/[^/]+\/search\/?$/i, /^\/v1\/embeddings\/?$/i, /^\/v1\/vector_stores\/[^/]+\/search\/?$/i];

/** The HTTP application, with no listening socket: tests and `main.ts` both start it. */
export function createApp(deps: Deps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.use(httpMetrics(deps.metrics));
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const incoming = req.headers["x-request-id"];
        const id = typeof incoming === "string" && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader("X-Request-Id", id);
        return id;
      },
      // Operators alert on `error`: only server faults go there. A client's mistake (4xx) or a
      // connection the client dropped (`err` with no 5xx) is info.
      // 503 is a dependency outage, reported (rate-limited) by the connection that saw it: one line
      // per refused request at error would bury it. Other 5xx are Quarry's own faults.
      customLogLevel: (_req, res, err) =>
        res.statusCode === 503 ? "warn" : res.statusCode >= 500 ? "error" : err || res.statusCode >= 400 ? "info" : "debug",
      autoLogging: { ignore: (req) => req.url === "/health" || req.url === "/ready" },
    }),
  );
  app.use(securityHeaders());
  if (deps.config.CORS_ORIGINS) {
    app.use(cors({ origin: deps.config.CORS_ORIGINS.split(",").map((o) => o.trim()), exposedHeaders: ["Location", "Retry-After", "X-Request-Id", "RateLimit", "RateLimit-Policy", "Server-Timing", "openai-poll-after-ms"] }));
  }
  app.use(healthRoutes(deps));
  app.use(metricsRoutes(deps));
  app.use(docsRoutes());
  // The ops routes take ADMIN_TOKEN, not an API key.
  app.use(backupsRoutes(deps));
  app.use(bullBoardRoutes(deps));
  app.use("/v1", requireApiKey(deps.config.API_KEYS, deps.config.ADMIN_TOKEN));
  // Per key, before the body is read: a refused upload is not parsed first.
  app.use("/v1", rateLimits(deps));
  app.use(
    "/v1",
    jsonBody({
      // JSON bodies may carry a whole text document: allow the file size limit plus JSON overhead.
      limit: Math.ceil(deps.config.MAX_FILE_SIZE * 1.1) + 64 * 1024,
      // The upload route takes multipart too, and answers 415 itself for anything else.
      ownBodyType: [UPLOAD_ROUTE, FILE_UPLOAD_ROUTE],
    }),
  );
  // After the body is parsed: a POST's Idempotency-Key is checked against its method, path and body.
  app.use("/v1", idempotency(deps, { reads: IDEMPOTENCY_READS, deferred: [UPLOAD_ROUTE, FILE_UPLOAD_ROUTE] }));
  app.use(collectionsRoutes(deps));
  app.use(documentsRoutes(deps));
  app.use(searchRoutes(deps));
  app.use(jobsRoutes(deps));
  app.use(chatRoutes(deps));
  app.use(embeddingsRoutes(deps));
  app.use(workflowsRoutes(deps));
  app.use(openAiFilesRoutes(deps));
  app.use(vectorStoresRoutes(deps));
  app.use(vectorStoreFilesRoutes(deps));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
