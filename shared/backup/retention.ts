
export type BackupStatus = "succeeded" | "failed" | "running";

/** What retention needs to know about a backup. Rows with more fields (e.g. `trigger`) fit as they are. */
export interface RetainableBackup {
  readonly id: string;
  readonly createdAt: Date;
  readonly status: BackupStatus;
}

/** Grandfather-father-son counts, and the zone whose calendar defines days, weeks and months. */
export interface RetentionPolicy {
  readonly keepDaily: number;
  readonly keepWeekly: number;
  readonly keepMonthly: number;
  /** An IANA time zone such as "Europe/Berlin" or "UTC" (normally `BACKUP_TZ`). */
  readonly timeZone: string;
}

/** Why a backup is kept, in the order they are listed for a backup. */
export const KEEP_REASONS = ["latest", "daily", "weekly", "monthly", "running", "recent-failure"] as const;
export type KeepReason = (typeof KEEP_REASONS)[number];

export interface RetentionPlan {
  /** Kept backup id → why (one or more reasons, in `KEEP_REASONS` order); entries newest first. */
  readonly keep: ReadonlyMap<string, readonly KeepReason[]>;
  /** Ids of backups to delete, newest first. */
  readonly prune: readonly string[];
}

/** A retention policy that cannot be applied; `problems` names each bad setting. */
export class RetentionPolicyError extends RangeError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid backup retention policy: ${problems.join("; ")}`);
    this.name = "RetentionPolicyError";
    this.problems = problems;
  }
}

/**
 * Decides which backups a grandfather-father-son policy keeps and which it prunes. Pure and
 * deterministic: the plan depends only on the backups' ids, times and statuses and on the policy —
 * not on the input order, and not on the current time.
 *
 * - **Calendar.** Days, ISO weeks (Monday to Sunday) and months are those of the wall clock in
 *   `policy.timeZone`, read with `Intl.DateTimeFormat`. Across DST changes a day is 23 or 25 hours
 *   long; both runs of a repeated hour (01:30 twice in New York on the fall-back night) belong to the
 *   same day; a backup scheduled inside a skipped hour runs later and still belongs to its day.
 * - **Classes.** Only successful backups count. `daily`: for each of the last `keepDaily` calendar
 *   days *that have a successful backup*, keep the newest successful backup of that day (the meaning
 *   of restic's and borg's `--keep-daily`: missed nights and failed nights use no slot, so a gap
 *   makes the kept set reach further back, never shrink). `weekly` and `monthly` do the same for
 *   ISO weeks and calendar months. The classes are independent (as in restic; borg instead skips
 *   archives already kept by an earlier rule): one backup can hold several, so with 7/4/12 on
 *   nightly backups the newest one is daily, weekly and monthly at once.
 * - **Manual backups count like scheduled ones.** A manual backup is just as complete and
 *   verified; the newest backup of a day is that day's restore point whichever way it was started.
 *   This also gives manual backups a bounded, predictable lifetime instead of a rule of their own.
 * - **`latest`.** The newest successful backup is always kept, even with a 0/0/0 policy, so failed
 *   nights can never leave you with no backup.
 * - **Failed and running backups** never fill a class. A running backup is never pruned. A failed
 *   backup is pruned once a successful backup is newer than it; until then (including when no
 *   backup has ever succeeded) it is kept as `recent-failure`, for diagnosis.
 * - **Ties.** Among backups with the same `createdAt`, the greater id (by UTF-16 code units) counts
 *   as the newer one.
 *
 * Applying the plan every night gives the same set as planning over the whole history at once.
 *
 * @throws RetentionPolicyError when a count is not a non-negative integer or the time zone is
 *   unknown (a configuration mistake: the policy comes from `BACKUP_KEEP_*` and `BACKUP_TZ`);
 *   TypeError when an id repeats, a date is invalid or a status is unknown (an unknown status is
 *   never guessed to be prunable). Neither is an API error: nothing a client sends reaches here.
 */
export function planRetention(backups: readonly RetainableBackup[], policy: RetentionPolicy): RetentionPlan {
  const calendarOf = zonedCalendar(validatePolicy(policy));
  validateBackups(backups);

  const ordered = [...backups].sort(newestFirst);
  const reasons = new Map<string, Set<KeepReason>>();
  const keep = (id: string, reason: KeepReason) => {
    const set = reasons.get(id) ?? new Set<KeepReason>();
    set.add(reason);
    reasons.set(id, set);
  };

  const succeeded = ordered.filter((b) => b.status === "succeeded");
  const latest = succeeded[0];
  if (latest) keep(latest.id, "latest");

  const days = succeeded.map((b) => calendarOf(b.createdAt));
  const classes: Array<[KeepReason, number, (d: LocalDay) => number]> = [
    ["daily", policy.keepDaily, (d) => d.day],
    ["weekly", policy.keepWeekly, (d) => d.week],
    ["monthly", policy.keepMonthly, (d) => d.month],
  ];
  for (const [reason, count, bucketOf] of classes) {
    // A set rather than "differs from the previous bucket", so one backup per bucket holds even
    // if a zone's wall clock ever steps back across midnight and revisits a day.
    const filled = new Set<number>();
    for (let i = 0; i < succeeded.length && filled.size < count; i++) {
      const bucket = bucketOf(days[i]!);
      if (filled.has(bucket)) continue;
      filled.add(bucket);
      keep(succeeded[i]!.id, reason);
    }
  }

  for (const b of ordered) {
    if (b.status === "running") keep(b.id, "running");
    else if (b.status === "failed" && (!latest || b.createdAt.getTime() >= latest.createdAt.getTime())) keep(b.id, "recent-failure");
  }

  const plan = new Map<string, KeepReason[]>();
  const prune: string[] = [];
  for (const b of ordered) {
    const why = reasons.get(b.id);
    if (why) plan.set(b.id, KEEP_REASONS.filter((r) => why.has(r)));
    else prune.push(b.id);
  }
  return { keep: plan, prune };
}

function newestFirst(a: RetainableBackup, b: RetainableBackup): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Buckets as plain numbers: days since 1970-01-01, the day number of the ISO week's Monday, months since year 0. */
interface LocalDay {
  day: number;
  week: number;
  month: number;
}

const MS_PER_DAY = 86_400_000;

function zonedCalendar(timeZone: string): (instant: Date) => LocalDay {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    calendar: "gregory",
    numberingSystem: "latn",
    year: "numeric",
    month: "numeric",
    day: "numeric",
  });
  return (instant) => {
    let year = 0;
    let month = 0;
    let day = 0;
    for (const part of format.formatToParts(instant)) {
      if (part.type === "year") year = Number(part.value);
      else if (part.type === "month") month = Number(part.value);
      else if (part.type === "day") day = Number(part.value);
    }
    const dayNumber = Date.UTC(year, month - 1, day) / MS_PER_DAY;
    // 1970-01-01 was a Thursday: (dayNumber + 3) mod 7 counts days since Monday.
    const sinceMonday = (((dayNumber + 3) % 7) + 7) % 7;
    return { day: dayNumber, week: dayNumber - sinceMonday, month: year * 12 + month - 1 };
  };
}

const COUNTS = ["keepDaily", "keepWeekly", "keepMonthly"] as const;

function validatePolicy(policy: RetentionPolicy): string {
  const problems: string[] = [];
  for (const name of COUNTS) {
    const value: unknown = policy[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      problems.push(`${name} must be a non-negative integer, got ${describe(value)}`);
    }
  }
  const timeZone: unknown = policy.timeZone;
  if (typeof timeZone !== "string" || !isTimeZone(timeZone)) {
    problems.push(`timeZone must be an IANA time zone such as "Europe/Berlin" or "UTC", got ${describe(timeZone)}`);
  }
  if (problems.length > 0) {
    throw new RetentionPolicyError(problems);
  }
  return timeZone as string;
}

function isTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === "") return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

const STATUSES: ReadonlySet<unknown> = new Set<BackupStatus>(["succeeded", "failed", "running"]);

function validateBackups(backups: readonly RetainableBackup[]): void {
  const ids = new Set<string>();
  for (const b of backups) {
    const problem =
      ids.has(b.id) ? "appears twice"
      : !(b.createdAt instanceof Date) || Number.isNaN(b.createdAt.getTime()) ? `has an invalid createdAt (${describe(b.createdAt)})`
      : !STATUSES.has(b.status) ? `has an unknown status ${describe(b.status)}`
      : undefined;
    if (problem) throw new TypeError(`Cannot plan backup retention: backup ${describe(b.id)} ${problem}`);
    ids.add(b.id);
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  return String(value);
}
