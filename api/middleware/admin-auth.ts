import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { AppError } from "../../shared/errors/app-error.ts";

/** Compares digests, not the strings: equal lengths, so the time taken says nothing of the token's length either. */
function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** The token an `Authorization` header carries: `Bearer <token>`, or `Basic` with user `admin` (browsers). */
export function presentedAdminToken(header: string | undefined): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? "");
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
  const sep = decoded.indexOf(":");
  return sep > 0 && decoded.slice(0, sep) === "admin" ? decoded.slice(sep + 1) : undefined;
}

export const isAdminToken = (token: string | undefined, adminToken: string | undefined): boolean =>
  adminToken !== undefined && token !== undefined && safeEqual(token, adminToken);

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

const isSameHost = (origin: string, host: string | undefined): boolean => {
  try {
    const url = new URL(origin);
    return host !== undefined && url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
};

/**
 * Why a write may have come from another site's page (undefined for reads, and for a write that
 * shows it comes from this origin: `Sec-Fetch-Site: same-origin`, an `Origin` naming this host,
 * or both — never neither). Browsers send Basic credentials by themselves, even cross-site.
 */
export function crossSiteProblem(req: Request): string | undefined {
  if (READS.has(req.method)) return undefined;
  const site = req.get("sec-fetch-site");
  const origin = req.get("origin");
  if (site === undefined && origin === undefined) return "it carries neither Sec-Fetch-Site nor Origin";
  if (site !== undefined && site !== "same-origin") return `it comes from a ${site} page (Sec-Fetch-Site)`;
  if (origin !== undefined && !isSameHost(origin, req.get("host"))) return `it comes from ${origin.slice(0, 100)}, not from this server (Origin)`;
  return undefined;
}

/**
 * Ops routes: `ADMIN_TOKEN` only. Without one configured they are off (403 ADMIN_DISABLED). A
 * write with Basic credentials must come from this origin's own pages (403 CSRF_REJECTED).
 */
export function requireAdmin(adminToken: string | undefined) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!adminToken) throw new AppError("ADMIN_DISABLED", "the ops routes are off: set ADMIN_TOKEN to use them", { httpStatus: 403 });
    const header = req.get("authorization");
    if (!isAdminToken(presentedAdminToken(header), adminToken)) {
      res.setHeader("WWW-Authenticate", 'Basic realm="Quarry admin"');
      throw new AppError("UNAUTHORIZED", "send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>' (or Basic, user admin)", { httpStatus: 401 });
    }
    const problem = /^Basic\s/i.test(header ?? "") ? crossSiteProblem(req) : undefined;
    if (problem) {
      throw new AppError("CSRF_REJECTED", `refused: ${problem}. A change sent with Basic credentials must come from Quarry's own pages; scripts send 'Authorization: Bearer <ADMIN_TOKEN>'`, { httpStatus: 403 });
    }
    next();
  };
}
