import { timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { OPS_TENANT } from "../../shared/config/env.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import { isAdminToken } from "./admin-auth.ts";

declare module "express-serve-static-core" {
  interface Request {
    /** The tenant of the API key that authenticated the request. */
    tenantId: string;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * `Authorization: Bearer <key>`; the key's tenant owns every resource the request touches. The
 * admin token passes too, on `/v1/jobs` only: it reads and cancels the operator's jobs (backups,
 * restores), whose tenant is `@ops`.
 */
export function requireApiKey(keys: ReadonlyMap<string, string>, adminToken?: string) {
  const entries = [...keys];
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new AppError("UNAUTHORIZED", "send an API key as 'Authorization: Bearer <key>'", { httpStatus: 401 });
    }
    if (isAdminToken(match[1], adminToken) && !entries.some(([key]) => safeEqual(key, match[1]!))) {
      if (!/^\/jobs(\/|$)/.test(req.path)) {
        throw new AppError("FORBIDDEN", "the admin token works on /v1/backups and /v1/jobs; use an API key for tenant routes", { httpStatus: 403 });
      }
      req.tenantId = OPS_TENANT;
      next();
      return;
    }
    const found = entries.find(([key]) => safeEqual(key, match[1]!));
    if (!found) throw new AppError("UNAUTHORIZED", "the API key is not valid", { httpStatus: 401 });
    req.tenantId = found[1];
    next();
  };
}
