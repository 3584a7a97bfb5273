import { listScope, pruneTombstones, tombstone } from "../db/openai-list.ts";
import type { Deps } from "../deps.ts";
import { reconcileJobs } from "../use-cases/reconcile-jobs.ts";
import { relayOutbox } from "./outbox-relay.ts";

export interface HousekeeperOptions {
  /** How often the outbox is drained. */
  relayEveryMs: number;
  /** How often unfinished rows are checked against BullMQ. */
  healEveryMs: number;
  /** A row must not have moved for this long before it is checked. */
  healAfterMs: number;
}

export const DEFAULT_HOUSEKEEPING: HousekeeperOptions = { relayEveryMs: 1_000, healEveryMs: 5_000, healAfterMs: 15_000 };

/**
 * Runs in every Quarry process (api, worker, scheduler): drains the outbox and heals job rows
 * whose BullMQ job was lost or ended unheard, so neither waits for any one kind of process. One
 * process heals at a time (a short Redis lock); the outbox is safe to drain from all of them.
 * Failures (Redis or Postgres down) are logged at most once a minute and retried on the next tick.
 */
export function startHousekeeper(deps: Deps, options: HousekeeperOptions = DEFAULT_HOUSEKEEPING): { stop(): Promise<void> } {
  let stopped = false;
  let lastComplaint = 0;
  const complain = (err: unknown, what: string) => {
    if (Date.now() - lastComplaint < 60_000) return;
    lastComplaint = Date.now();
    deps.logger.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, `housekeeping: ${what} failed; retrying`);
  };
  const lockKey = `${deps.config.QUEUE_PREFIX}:heal-lock`;

  const relay = async () => {
    while (!stopped && (await relayOutbox(deps)) > 0);
  };
  const heal = async () => {
    if (deps.redis.status !== "ready") return;
    const got = await deps.redis.set(lockKey, String(process.pid), "PX", Math.max(1_000, options.healEveryMs - 500), "NX");
    if (got !== "OK") return;
    await reconcileJobs(deps, options.healAfterMs);
    await deps.outbox.prune(7);
    await deps.idempotency.prune();
    // Files past their expires_after: their bytes go (a cursor naming one still pages on); what
    // was already ingested from them stays.
    const expired = await deps.files.removeExpired(500);
    for (const file of expired) await tombstone(deps.db, listScope.files(file.tenant_id), [file]);
    await pruneTombstones(deps.db);
  };

  const loops = [
    { run: relay, every: options.relayEveryMs, what: "relaying the outbox" },
    { run: heal, every: options.healEveryMs, what: "healing job records" },
  ].map(({ run, every, what }) => {
    let current: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (stopped || current) return; // a slow tick is not stacked behind another
      current = run()
        .catch((err: unknown) => complain(err, what))
        .finally(() => (current = undefined));
    }, every);
    timer.unref();
    return { timer, done: () => current ?? Promise.resolve() };
  });

  return {
    async stop() {
      stopped = true;
      for (const loop of loops) clearInterval(loop.timer);
      await Promise.all(loops.map((l) => l.done()));
    },
  };
}

const running = new WeakMap<Deps, { users: number; handle: { stop(): Promise<void> } }>();

/**
 * Starts the housekeeper for this process's deps unless it already runs (`npm start` serves the
 * api and the workers from one set of deps). Returns a function that lets go of it; the last one
 * to let go stops it.
 */
export function useHousekeeper(deps: Deps, options?: HousekeeperOptions): () => Promise<void> {
  let entry = running.get(deps);
  if (!entry) running.set(deps, (entry = { users: 0, handle: startHousekeeper(deps, options) }));
  entry.users++;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--entry.users > 0) return;
    running.delete(deps);
    await entry.handle.stop();
  };
}
