import type { JobError } from "../db/jobs.repository.ts";
import type { Deps } from "../deps.ts";
import { isOutboundRefused } from "../outbound/outbound-guard.ts";

export interface BackupFailure {
  backupId: string;
  jobId: string;
  trigger: "scheduled" | "manual";
  status: "failed" | "cancelled" | "succeeded";
  error: JobError | null;
  /** Which time this failure is reported (the outbox tries again while the webhook fails); counted on the first. */
  attempt?: number;
}

/**
 * A backup did not complete: an operator's alarm. Logged at `error` with the backup's health
 * (last success, failures since), and posted as JSON to `ALERT_WEBHOOK_URL` when it is set. Called
 * from the outbox, so a webhook that fails (non-2xx, timeout) is tried again with backoff; the
 * failure is counted in `quarry_backup_failures_total` on its first report only.
 */
export async function backupFailed(deps: Pick<Deps, "config" | "logger" | "backups" | "outbound" | "metrics">, failure: BackupFailure): Promise<void> {
  if ((failure.attempt ?? 1) === 1) deps.metrics.backupFailed();
  const health = await deps.backups.health();
  const alert = {
    event: "backup.failed",
    backup_id: failure.backupId,
    job_id: failure.jobId,
    trigger: failure.trigger,
    status: failure.status,
    error: failure.error,
    last_success_at: health.lastSuccessAt?.toISOString() ?? null,
    failures_since_last_success: health.failuresSinceSuccess,
    at: new Date().toISOString(),
  };
  deps.logger.error({ alert }, "backup failed");
  const url = deps.config.ALERT_WEBHOOK_URL;
  if (!url) return;
  // Only the origin: webhook URLs often carry their secret in the path or the query (Slack, Teams).
  const shown = new URL(url).origin;
  // Through the outbound guard: an alert URL pointing inside the network needs OUTBOUND_ALLOWLIST.
  const res = await deps.outbound
    .fetch(url, { method: "POST", headers: { "content-type": "application/json", "user-agent": "quarry-alerts" }, body: JSON.stringify(alert) })
    .catch((err: unknown) => {
      // A URL the guard refuses stays refused: say so once instead of trying for hours.
      if (isOutboundRefused(err) && ["OUTBOUND_ADDRESS_REFUSED", "OUTBOUND_URL_INVALID"].includes(err.code)) {
        deps.logger.error({ backupId: failure.backupId, webhook: shown, code: err.code, reason: err.message }, "the alert webhook is refused by the outbound guard; fix ALERT_WEBHOOK_URL or OUTBOUND_ALLOWLIST");
        return undefined;
      }
      throw new Error(`the alert webhook at ${shown} could not be called: ${(err as { code?: string }).code ?? (err as Error).message}`);
    });
  if (!res) return;
  if (res.status < 200 || res.status >= 300) throw new Error(`the alert webhook at ${shown} answered ${res.status}`);
  deps.logger.info({ backupId: failure.backupId, webhook: shown }, "backup failure alert delivered");
}
