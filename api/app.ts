import { randomUUID } from "node:crypto";
import cors from "cors";
import express, { type Express } from "express";
import { pinoHttp } from "pino-http";
import type { Deps } from "../shared/deps.ts";
import { requireApiKey } from "./middleware/auth.ts";
import { errorHandler, notFoundHandler } from "./middleware/errors.ts";
import { jsonBody } from "./middleware/json-body.ts";
import { backupsRoutes } from "./routes/backups.routes.ts";
import { chatRoutes } from "./routes/chat.routes.ts";
import { collectionsRoutes } from "./routes/collections.routes.ts";
import { docsRoutes } from "./routes/docs.routes.ts";
import { documentsRoutes } from "./routes/documents.routes.ts";
import { embeddingsRoutes } from "./routes/embeddings.routes.ts";
import { healthRoutes } from "./routes/health.routes.ts";
import { jobsRoutes } from "./routes/jobs.routes.ts";
import { searchRoutes } from "./routes/search.routes.ts";
import { workflowsRoutes } from "./routes/workflows.routes.ts";

/** The HTTP application, with no listening socket: tests and `main.ts` both start it. */
export function createApp(deps: Deps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
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
  if (deps.config.CORS_ORIGINS) {
    app.use(cors({ origin: deps.config.CORS_ORIGINS.split(",").map((o) => o.trim()), exposedHeaders: ["Location", "Retry-After", "X-Request-Id"] }));
  }
  app.use(healthRoutes(deps));
  app.use(docsRoutes());
  // The ops routes take ADMIN_TOKEN, not an API key.
  app.use(backupsRoutes(deps));
  app.use("/v1", requireApiKey(deps.config.API_KEYS, deps.config.ADMIN_TOKEN));
  app.use(
    "/v1",
    jsonBody({
      // JSON bodies may carry a whole text document: allow the file size limit plus JSON overhead.
      limit: Math.ceil(deps.config.MAX_FILE_SIZE * 1.1) + 64 * 1024,
      // The upload route takes multipart too, and answers 415 itself for anything else.
      ownBodyType: [/^\/v1\/collections\/[^/]+\/documents\/?$/i],
    }),
  );
  app.use(collectionsRoutes(deps));
  app.use(documentsRoutes(deps));
  app.use(searchRoutes(deps));
  app.use(jobsRoutes(deps));
  app.use(chatRoutes(deps));
  app.use(embeddingsRoutes(deps));
  app.use(workflowsRoutes(deps));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
