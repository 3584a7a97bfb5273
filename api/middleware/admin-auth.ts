import { timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { AppError } from "../../shared/errors/app-error.ts";

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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

/** Ops routes: `ADMIN_TOKEN` only. Without one configured they are off (403 ADMIN_DISABLED). */
export function requireAdmin(adminToken: string | undefined) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!adminToken) throw new AppError("ADMIN_DISABLED", "the ops routes are off: set ADMIN_TOKEN to use them", { httpStatus: 403 });
    if (!isAdminToken(presentedAdminToken(req.get("authorization")), adminToken)) {
      res.setHeader("WWW-Authenticate", 'Basic realm="quarry-admin"');
      throw new AppError("UNAUTHORIZED", "send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>' (or Basic, user admin)", { httpStatus: 401 });
    }
    next();
  };
}
