import { createRequire } from "node:module";
import path from "node:path";
import express, { Router, type Request } from "express";
import { openApiDocument } from "../openapi.ts";

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/** The page's one inline script; the security headers allow it by its hash (api/middleware/security-headers.ts). */
export const DOCS_INIT_SCRIPT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", persistAuthorization: true });`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quarry API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>${DOCS_INIT_SCRIPT}</script>
</body></html>`;

/** Where the client reached us: scheme and Host of the request (relative "/" without a Host header). */
const requestOrigin = (req: Request) => {
  const host = req.get("host");
  return host ? `${req.protocol}://${host}` : "/";
};

/**
 * `/openapi.json` and `/docs` (Swagger UI, served from the package: no CDN needed). Open, like
 * /health. The document's `servers` is `publicUrl` when the deployment has one (behind a proxy the
 * request's own origin may be an internal one), else the origin the request came to.
 */
export function docsRoutes(publicUrl?: string): Router {
  const router = Router();
  router.get("/openapi.json", (req, res) => {
    if (!publicUrl) res.vary("Host");
    res.json(openApiDocument(publicUrl ?? requestOrigin(req)));
  });
  router.get("/docs", (_req, res) => {
    res.type("html").send(PAGE);
  });
  router.use("/docs/assets", express.static(swaggerUiDir, { index: false, maxAge: "1d" }));
  return router;
}
