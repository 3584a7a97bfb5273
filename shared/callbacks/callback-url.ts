import { z } from "zod";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors/app-error.ts";
import { isOutboundRefused } from "../outbound/outbound-guard.ts";

/** The `callback_url` field of a JSON body (checked further by {@link acceptCallbackUrl}). */
export const callbackUrlField = z.url({ protocol: /^https?$/ }).max(2000).optional().describe("POSTed the job's JSON, signed, when the job ends (docs/api.md, Callbacks)");

/**
 * A `callback_url` from a request, checked before anything is stored: callbacks must be signable
 * (`WEBHOOK_SECRET` set: 400 CALLBACKS_DISABLED otherwise) and the URL must be one the outbound
 * guard will call (400 CALLBACK_URL_REFUSED). Delivery checks it again, at connect time.
 */
export async function acceptCallbackUrl(deps: Pick<Deps, "config" | "outbound">, url: string | undefined | null): Promise<string | undefined> {
  if (!url) return undefined;
  if (!deps.config.WEBHOOK_SECRET) {
    throw new AppError("CALLBACKS_DISABLED", "callbacks are off on this installation: its operator has not set WEBHOOK_SECRET", { httpStatus: 400, details: [{ field: "callback_url", message: "callbacks are off" }] });
  }
  try {
    await deps.outbound.checkUrl(url);
  } catch (err) {
    if (!isOutboundRefused(err)) throw err;
    throw new AppError("CALLBACK_URL_REFUSED", `callback_url: ${err.message}`, { httpStatus: 400, details: [{ field: "callback_url", message: err.code }] });
  }
  return url;
}
