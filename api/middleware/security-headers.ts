import { createHash } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import helmet from "helmet";
import { DOCS_INIT_SCRIPT } from "../routes/docs.routes.ts";

/** Swagger UI's page (`/docs`) and its assets: a page of HTML, scripts and styles. */
const DOCS = /^\/docs(?:\/|$)/i;
/** Bull Board: its own page and assets, which set their own policy. */
const BULL_BOARD = /^\/admin\/queues(?:\/|$)/i;

/**
 * helmet's security headers on every answer (HSTS, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, `X-Frame-Options`, the cross-origin policies, …), with a
 * Content-Security-Policy per kind of answer:
 * - the JSON API (and everything else): `default-src 'none'; frame-ancestors 'none'` — JSON is
 *   never a page, so nothing may load from it or frame it;
 * - `/docs`: helmet's default page policy (scripts, styles, images from this origin), plus the
 *   page's one inline script by its hash, and no `upgrade-insecure-requests` (which would send the
 *   assets of a plain-http deployment to https);
 * - `/admin/queues`: no CSP from here, the other headers as everywhere: Bull Board's page is its
 *   owner's to police (its inline bootstrap would not run under the policies above).
 */
export function securityHeaders() {
  const docsScript = `'sha256-${createHash("sha256").update(DOCS_INIT_SCRIPT).digest("base64")}'`;
  const api = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    frameguard: { action: "deny" },
  });
  const docs = helmet({ contentSecurityPolicy: { directives: { scriptSrc: ["'self'", docsScript], upgradeInsecureRequests: null } } });
  const bullBoard = helmet({ contentSecurityPolicy: false });
  return (req: Request, res: Response, next: NextFunction) => {
    if (DOCS.test(req.path)) return docs(req, res, next);
    if (BULL_BOARD.test(req.path)) return bullBoard(req, res, next);
    return api(req, res, next);
  };
}
