import { timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { AppError } from "../../shared/errors/app-error.ts";

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

/** `Authorization: Bearer <key>`; the key's tenant owns every resource the request touches. */
export function requireApiKey(keys: ReadonlyMap<string, string>) {
  const entries = [...keys];
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new AppError("UNAUTHORIZED", "send an API key as 'Authorization: Bearer <key>'", { httpStatus: 401 });
    }
    const found = entries.find(([key]) => safeEqual(key, match[1]!));
    if (!found) throw new AppError("UNAUTHORIZED", "the API key is not valid", { httpStatus: 401 });
    req.tenantId = found[1];
    next();
  };
}
