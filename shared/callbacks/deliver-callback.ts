import { Webhook } from "standardwebhooks";
import type { OutboxRow } from "../db/outbox.repository.ts";
import type { Deps } from "../deps.ts";
import { isOutboundRefused } from "../outbound/outbound-guard.ts";

/** Thrown by a handler that wants its row tried again after `delayMs` (a receiver's 429 + Retry-After). */
export class RetryLaterError extends Error {
  readonly delayMs: number;
  constructor(message: string, delayMs: number) {
    super(message);
    this.name = "RetryLaterError";
    this.delayMs = delayMs;
  }
}

type Outcome = "delivered" | "stopped" | "retrying" | "failed";

/**
 * POSTs an ended job's JSON to its `callback_url`, signed the Standard Webhooks way
 * (`webhook-id` stable for this end, so a receiver can drop duplicates; `webhook-timestamp`;
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with `WEBHOOK_SECRET`),
 * through the outbound guard. Runs from the outbox (`job.callback` rows): a 2xx ends it, a 410 stops
 * it for good, a 429 comes back after its Retry-After, anything else is tried again with the
 * outbox's backoff (about two hours of tries). Every attempt is recorded on the job.
 */
export async function deliverCallback(deps: Deps, row: OutboxRow, lastTry: boolean): Promise<void> {
  const job = await deps.jobs.findById(row.job_id);
  if (!job?.callback_url) return;
  const url = job.callback_url;
  const started = Date.now();
  const record = (outcome: Outcome, statusCode: number | null, error: string | null) => {
    deps.metrics.callbackAttempt(outcome, statusCode);
    return deps.db.query(`INSERT INTO callback_attempts (job_id, run, status_code, error, duration_ms, outcome) VALUES ($1, $2, $3, $4, $5, $6)`, [
      row.job_id,
      row.run,
      statusCode,
      error?.slice(0, 500) ?? null,
      Date.now() - started,
      outcome,
    ]);
  };
  const secret = deps.config.WEBHOOK_SECRET;
  if (!secret) {
    await record("failed", null, "WEBHOOK_SECRET is not set: callbacks cannot be signed");
    return;
  }
  const body = JSON.stringify(row.payload);
  const id = `msg_${row.job_id}_${row.run}`;
  const at = new Date();
  const headers = {
    "content-type": "application/json",
    "user-agent": "quarry-webhooks",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, at, body),
  };
  let status: number;
  let retryAfter: string | null = null;
  try {
    const res = await deps.outbound.fetch(url, { method: "POST", headers, body });
    status = res.status;
    retryAfter = res.headers.get("retry-after");
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = `${code ?? "NETWORK_ERROR"}: ${(err as Error).message}`;
    // A URL the guard refuses now will not be allowed later: no point in hours of tries.
    if (isOutboundRefused(err) && (code === "OUTBOUND_ADDRESS_REFUSED" || code === "OUTBOUND_URL_INVALID")) {
      await record("failed", null, message);
      return;
    }
    await record(lastTry ? "failed" : "retrying", null, message);
    if (lastTry) return;
    throw new Error(`callback delivery failed: ${message}`);
  }
  if (status >= 200 && status < 300) return void (await record("delivered", status, null));
  if (status === 410) return void (await record("stopped", status, "the receiver answered 410 Gone: no more deliveries"));
  await record(lastTry ? "failed" : "retrying", status, `the receiver answered ${status}`);
  if (lastTry) return;
  if (status === 429 && retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (ms > 0) throw new RetryLaterError(`the receiver answered 429; retrying after ${Math.round(ms / 1000)} s`, Math.min(ms, 3600_000));
  }
  throw new Error(`callback delivery: the receiver answered ${status}`);
}
