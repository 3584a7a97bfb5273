import { createRequire } from "node:module";
import path from "node:path";
import express, { Router } from "express";
import { openApiDocument } from "../openapi.ts";

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quarry API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", persistAuthorization: true });</script>
</body></html>`;

/** `/openapi.json` and `/docs` (Swagger UI, served from the package: no CDN needed). Open, like /health. */
export function docsRoutes(): Router {
  const router = Router();
  const document = openApiDocument();
  router.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  router.get("/docs", (_req, res) => {
    res.type("html").send(PAGE);
  });
  router.use("/docs/assets", express.static(swaggerUiDir, { index: false, maxAge: "1d" }));
  return router;
}
