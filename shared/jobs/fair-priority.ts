import type { Config } from "../config/env.ts";
import type { Repositories } from "../db/transaction.ts";

/** BullMQ's lowest priority (highest number). */
const LOWEST_PRIORITY = 2_097_152;

/**
 * Fair queuing without BullMQ Pro's groups: a tenant's n-th document waiting to be ingested gets
 * priority n (1 runs first). Every tenant's first document is ahead of every tenant's second, so
 * a tenant flooding the queue with 5,000 documents holds back another tenant's one by about one
 * document per busy worker slot, not by 5,000. Within a priority BullMQ keeps arrival order. The
 * count includes the tenant's documents being ingested (and the one being queued), and is read
 * without a lock: two uploads at once may share a number, which costs nothing. A priority is
 * fixed when the job is queued: it does not age as the tenant's backlog drains.
 */
export async function fairPriority(ctx: { repos: Pick<Repositories, "documents">; config: Pick<Config, "TENANT_FAIR_QUEUING"> }, tenantId: string): Promise<number | undefined> {
  if (!ctx.config.TENANT_FAIR_QUEUING) return undefined;
  const { documents } = await ctx.repos.documents.queuedTotals(tenantId);
  return Math.min(LOWEST_PRIORITY, Math.max(1, documents));
}
