import { describe, expect, it } from "vitest";
import { planRetention, RetentionPolicyError, type BackupStatus, type KeepReason, type RetentionPlan, type RetentionPolicy } from "../../shared/backup/retention.ts";

interface Backup {
  id: string;
  createdAt: Date;
  status: BackupStatus;
  trigger: "scheduled" | "manual";
}

const DAY = 86_400_000;

// ---- A plain calendar, by UTC date arithmetic: the test's own notion of days, weeks and months.

/** "2028-02-28" + 1 → "2028-02-29" */
const addDays = (date: string, n: number) => new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
const mondayOf = (date: string) => addDays(date, -((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7));
const lastDayOfPreviousMonth = (date: string) => new Date(Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, 0)).toISOString().slice(0, 10);
const dates = (from: string, to: string) => {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
};

// ---- Local wall-clock time → instant, the way a cron scheduler resolves it.

const wallClocks = new Map<string, Intl.DateTimeFormat>();
const wallClock = (timeZone: string) => {
  const options = { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" } as const;
  const format = wallClocks.get(timeZone) ?? new Intl.DateTimeFormat("en-US", options);
  wallClocks.set(timeZone, format);
  return format;
};

const offsetMs = (instant: number, timeZone: string) => {
  const parts = Object.fromEntries(
    wallClock(timeZone)
      .formatToParts(instant)
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>;
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!) - Math.floor(instant / 60_000) * 60_000;
};

/**
 * The instant of wall time `"2026-03-29 02:30"` in `timeZone`. A time the clocks skip happens
 * after the jump (03:30 on the spring-forward night); a repeated time happens first, or second.
 */
function zoned(wall: string, timeZone: string, occurrence: "first" | "second" = "first"): Date {
  const naive = Date.parse(`${wall.replace(" ", "T")}:00Z`);
  const before = offsetMs(naive - DAY, timeZone);
  const candidates = [...new Set([before, offsetMs(naive + DAY, timeZone)])]
    .map((offset) => naive - offset)
    .filter((t) => t + offsetMs(t, timeZone) === naive)
    .sort((a, b) => a - b);
  if (candidates.length === 0) return new Date(naive - before);
  return new Date(occurrence === "second" ? candidates.at(-1)! : candidates[0]!);
}

// ---- Backups

const BERLIN = "Europe/Berlin";
const NEW_YORK = "America/New_York";

type Options = Partial<Omit<Backup, "createdAt">> & { second?: boolean };

/** A backup at a local wall time; its id is that wall time unless given. */
const at = (timeZone: string, wall: string, options: Options = {}): Backup => ({
  id: options.id ?? wall,
  createdAt: zoned(wall, timeZone, options.second ? "second" : "first"),
  status: options.status ?? "succeeded",
  trigger: options.trigger ?? "scheduled",
});

/** A backup at an exact instant, for DST cases where the wall time alone is ambiguous. */
const utc = (id: string, iso: string, options: Options = {}): Backup => ({
  id,
  createdAt: new Date(iso),
  status: options.status ?? "succeeded",
  trigger: options.trigger ?? "scheduled",
});

/** One backup a night at `time` local, from `from` to `to` inclusive; ids are "YYYY-MM-DD HH:MM". */
const nightly = (timeZone: string, from: string, to: string, time = "02:00", options: Options = {}) =>
  dates(from, to).map((date) => at(timeZone, `${date} ${time}`, options));

const policy = (keepDaily: number, keepWeekly: number, keepMonthly: number, timeZone = BERLIN): RetentionPolicy => ({ keepDaily, keepWeekly, keepMonthly, timeZone });

const keptIds = (plan: RetentionPlan) => [...plan.keep.keys()].sort();
const asObject = (plan: RetentionPlan) => Object.fromEntries(plan.keep) as Record<string, KeepReason[]>;

/** A seeded shuffle, so a failing order can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  const random = () => ((state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * What 7/4/12-style retention keeps of an unbroken run of nightly backups, counted back on the
 * calendar from the last night: the last N nights, the last night of each earlier week (its Sunday)
 * and of each earlier month (its last day), as far back as the run goes.
 */
function expectedForUnbrokenRun(first: string, last: string, p: RetentionPolicy): string[] {
  const kept = new Set<string>([last]);
  for (let i = 0; i < p.keepDaily && addDays(last, -i) >= first; i++) kept.add(addDays(last, -i));
  for (let i = 0, day = last; i < p.keepWeekly && day >= first; i++, day = addDays(mondayOf(day), -1)) kept.add(day);
  for (let i = 0, day = last; i < p.keepMonthly && day >= first; i++, day = lastDayOfPreviousMonth(day)) kept.add(day);
  return [...kept].sort();
}

describe("planRetention over 400+ simulated nights", () => {
  const runs = [
    // Feb 2027 (28 days), Feb 29 2028, two DST springs and a fall, the 2027/2028 year change.
    { timeZone: BERLIN, time: "02:00", from: "2027-01-01", to: "2028-03-31", p: policy(7, 4, 12, BERLIN) },
    // 02:30 is skipped on 2026-03-08; ISO week 1 of 2026 starts on 2025-12-29; 2026 has a week 53.
    { timeZone: NEW_YORK, time: "02:30", from: "2025-10-01", to: "2027-01-15", p: policy(5, 6, 3, NEW_YORK) },
    { timeZone: "UTC", time: "23:59", from: "2027-11-01", to: "2028-12-31", p: policy(3, 2, 24, "UTC") },
  ];

  it.each(runs)("pruning every night in $timeZone at $time keeps exactly what counting back on the calendar keeps", ({ timeZone, time, from, to, p }) => {
    const nights = dates(from, to);
    expect(nights.length).toBeGreaterThan(400);
    let stored: Backup[] = [];
    for (const night of nights) {
      stored.push(at(timeZone, `${night} ${time}`));
      const plan = planRetention(stored, p);
      const expected = expectedForUnbrokenRun(from, night, p).map((d) => `${d} ${time}`);
      expect(keptIds(plan), `after the night of ${night}`).toEqual(expected);
      stored = stored.filter((b) => plan.keep.has(b.id));
    }
    // Pruning night by night ends where one plan over the whole history does.
    const all = nights.map((night) => at(timeZone, `${night} ${time}`));
    expect(keptIds(planRetention(all, p))).toEqual(stored.map((b) => b.id).sort());
  });

  it("names every reason a backup is kept for", () => {
    const plan = planRetention(nightly(BERLIN, "2027-12-01", "2028-03-01"), policy(3, 2, 3));
    expect(asObject(plan)).toEqual({
      "2028-03-01 02:00": ["latest", "daily", "weekly", "monthly"],
      "2028-02-29 02:00": ["daily", "monthly"],
      "2028-02-28 02:00": ["daily"],
      "2028-02-27 02:00": ["weekly"], // Sunday before the week of Wed 2028-03-01
      "2028-01-31 02:00": ["monthly"],
    });
    expect(plan.prune).toHaveLength(92 - 5);
    expect([...plan.keep.keys()]).toEqual(["2028-03-01 02:00", "2028-02-29 02:00", "2028-02-28 02:00", "2028-02-27 02:00", "2028-01-31 02:00"]);
  });
});

describe("planRetention on the calendar of the policy's time zone", () => {
  const cases: Array<{ name: string; p: RetentionPolicy; backups: Backup[]; keep: Record<string, KeepReason[]> }> = [
    {
      name: "a month ends at local midnight: 00:30 on Feb 1 in Berlin is February, though it is still January in UTC",
      p: policy(0, 0, 2),
      backups: [at(BERLIN, "2026-01-15 12:00"), at(BERLIN, "2026-01-31 23:30"), at(BERLIN, "2026-02-01 00:30")],
      keep: { "2026-02-01 00:30": ["latest", "monthly"], "2026-01-31 23:30": ["monthly"] },
    },
    {
      name: "February 29 is the last day of February 2028",
      p: policy(2, 0, 2),
      backups: nightly(BERLIN, "2028-02-25", "2028-03-02"),
      keep: { "2028-03-02 02:00": ["latest", "daily", "monthly"], "2028-03-01 02:00": ["daily"], "2028-02-29 02:00": ["monthly"] },
    },
    {
      name: "2027 has no February 29: the 28th is the month's last night",
      p: policy(2, 0, 2),
      backups: nightly(BERLIN, "2027-02-25", "2027-03-02"),
      keep: { "2027-03-02 02:00": ["latest", "daily", "monthly"], "2027-03-01 02:00": ["daily"], "2027-02-28 02:00": ["monthly"] },
    },
    {
      name: "ISO week 1 of 2026 starts on Monday 2025-12-29: Dec 31 shares a week with Jan 2",
      p: policy(0, 3, 0),
      backups: nightly(BERLIN, "2025-12-24", "2026-01-02"),
      keep: { "2026-01-02 02:00": ["latest", "weekly"], "2025-12-28 02:00": ["weekly"] },
    },
    {
      name: "ISO week 53 of 2026 runs to Sunday 2027-01-03",
      p: policy(0, 3, 2),
      backups: nightly(BERLIN, "2026-12-26", "2027-01-05"),
      keep: {
        "2027-01-05 02:00": ["latest", "weekly", "monthly"],
        "2027-01-03 02:00": ["weekly"],
        "2026-12-31 02:00": ["monthly"],
        "2026-12-27 02:00": ["weekly"],
      },
    },
    {
      name: "Berlin, spring forward: the 02:30 backup of 2026-03-29 runs at 03:30 CEST and is that day's",
      p: policy(2, 0, 0),
      backups: nightly(BERLIN, "2026-03-27", "2026-03-30", "02:30"),
      keep: { "2026-03-30 02:30": ["latest", "daily"], "2026-03-29 02:30": ["daily"] },
    },
    {
      name: "Berlin, the 23-hour day 2026-03-29: it starts at 23:00Z and ends at 22:00Z",
      p: policy(5, 0, 0),
      backups: [
        utc("00:30 CET on the 29th", "2026-03-28T23:30:00Z"),
        utc("23:30 CEST on the 29th", "2026-03-29T21:30:00Z"),
        utc("00:30 CEST on the 30th", "2026-03-29T22:30:00Z"),
      ],
      keep: { "00:30 CEST on the 30th": ["latest", "daily"], "23:30 CEST on the 29th": ["daily"] },
    },
    {
      name: "Berlin, fall back: 02:30 happens twice on 2026-10-25, both are that day and the later wins",
      p: policy(3, 0, 0),
      backups: [
        at(BERLIN, "2026-10-24 02:30"),
        at(BERLIN, "2026-10-25 02:30", { id: "02:30 CEST" }),
        at(BERLIN, "2026-10-25 02:30", { id: "02:30 CET", second: true }),
        at(BERLIN, "2026-10-26 02:30"),
      ],
      keep: { "2026-10-26 02:30": ["latest", "daily"], "02:30 CET": ["daily"], "2026-10-24 02:30": ["daily"] },
    },
    {
      name: "New York, spring forward: the 02:30 backup of 2026-03-08 runs at 03:30 EDT and is that day's",
      p: policy(2, 0, 0, NEW_YORK),
      backups: nightly(NEW_YORK, "2026-03-06", "2026-03-09", "02:30"),
      keep: { "2026-03-09 02:30": ["latest", "daily"], "2026-03-08 02:30": ["daily"] },
    },
    {
      name: "New York, fall back: 01:30 happens twice on 2026-11-01, both are that day and the later wins",
      p: policy(2, 0, 0, NEW_YORK),
      backups: [
        utc("2026-10-31 01:30", "2026-10-31T05:30:00Z"),
        utc("01:30 EDT", "2026-11-01T05:30:00Z"),
        utc("01:30 EST", "2026-11-01T06:30:00Z"),
      ],
      keep: { "01:30 EST": ["latest", "daily"], "2026-10-31 01:30": ["daily"] },
    },
    {
      name: "New York, the 25-hour day 2026-11-01: 00:30 EDT and 23:30 EST, 24 hours apart, are the same day",
      p: policy(3, 0, 0, NEW_YORK),
      backups: [
        utc("00:30 EDT on the 1st", "2026-11-01T04:30:00Z"),
        utc("23:30 EST on the 1st", "2026-11-02T04:30:00Z"),
        utc("00:30 EST on the 2nd", "2026-11-02T05:30:00Z"),
      ],
      keep: { "00:30 EST on the 2nd": ["latest", "daily"], "23:30 EST on the 1st": ["daily"] },
    },
    {
      name: "missed nights use no slot: the last 5 days with a backup reach back over a week-long gap",
      p: policy(5, 2, 0),
      backups: [...nightly(BERLIN, "2026-05-01", "2026-05-05"), ...nightly(BERLIN, "2026-05-12", "2026-05-14")],
      keep: {
        "2026-05-14 02:00": ["latest", "daily", "weekly"],
        "2026-05-13 02:00": ["daily"],
        "2026-05-12 02:00": ["daily"],
        "2026-05-05 02:00": ["daily", "weekly"],
        "2026-05-04 02:00": ["daily"],
      },
    },
    {
      name: "a month without any backup uses no monthly slot",
      p: policy(0, 0, 3),
      backups: [at(BERLIN, "2026-01-10 02:00"), at(BERLIN, "2026-01-31 02:00"), at(BERLIN, "2026-03-15 02:00"), at(BERLIN, "2026-04-10 02:00")],
      keep: { "2026-04-10 02:00": ["latest", "monthly"], "2026-03-15 02:00": ["monthly"], "2026-01-31 02:00": ["monthly"] },
    },
    {
      name: "manual backups count like scheduled ones: the newest of the day wins",
      p: policy(3, 0, 0),
      backups: [
        at(BERLIN, "2026-06-01 01:00", { trigger: "manual" }),
        ...nightly(BERLIN, "2026-06-01", "2026-06-03"),
        at(BERLIN, "2026-06-02 14:15", { trigger: "manual" }),
        at(BERLIN, "2026-06-03 09:00", { trigger: "manual" }),
      ],
      keep: { "2026-06-03 09:00": ["latest", "daily"], "2026-06-02 14:15": ["daily"], "2026-06-01 02:00": ["daily"] },
    },
    {
      name: "a failed backup is pruned once a newer one succeeded, and kept until then",
      p: policy(7, 0, 0),
      backups: [
        at(BERLIN, "2026-06-01 02:00"),
        at(BERLIN, "2026-06-02 02:00", { status: "failed" }),
        at(BERLIN, "2026-06-03 02:00"),
        at(BERLIN, "2026-06-04 02:00", { status: "failed" }),
      ],
      keep: { "2026-06-04 02:00": ["recent-failure"], "2026-06-03 02:00": ["latest", "daily"], "2026-06-01 02:00": ["daily"] },
    },
    {
      name: "a running backup is never pruned and never fills a slot, however old",
      p: policy(1, 0, 0),
      backups: [
        at(BERLIN, "2026-07-01 02:00", { status: "running" }),
        ...nightly(BERLIN, "2026-08-01", "2026-08-03"),
        at(BERLIN, "2026-08-03 14:00", { status: "running" }),
        at(BERLIN, "2026-08-04 02:00", { status: "running" }),
      ],
      keep: {
        "2026-08-04 02:00": ["running"],
        "2026-08-03 14:00": ["running"],
        "2026-08-03 02:00": ["latest", "daily"],
        "2026-07-01 02:00": ["running"],
      },
    },
    {
      name: "policy 0/0/0 keeps exactly the newest good backup",
      p: policy(0, 0, 0),
      backups: [...nightly(BERLIN, "2026-01-01", "2026-02-15"), at(BERLIN, "2026-02-10 03:00", { status: "failed" })],
      keep: { "2026-02-15 02:00": ["latest"] },
    },
    {
      name: "backups at the same instant: the greater id counts as the newer",
      p: policy(1, 0, 0),
      backups: [utc("a", "2026-01-01T02:00:00Z"), utc("b", "2026-01-01T02:00:00Z"), utc("c", "2026-01-01T02:00:00Z", { status: "failed" })],
      keep: { b: ["latest", "daily"], c: ["recent-failure"] },
    },
    { name: "nothing to plan", p: policy(7, 4, 12), backups: [], keep: {} },
    {
      name: "no backup has succeeded yet: failed ones are kept",
      p: policy(7, 4, 12),
      backups: nightly(BERLIN, "2026-01-01", "2026-01-02", "02:00", { status: "failed" }),
      keep: { "2026-01-02 02:00": ["recent-failure"], "2026-01-01 02:00": ["recent-failure"] },
    },
  ];

  it.each(cases)("$name", ({ p, backups, keep }) => {
    const plan = planRetention(backups, p);
    expect(asObject(plan)).toEqual(keep);
    expect([...plan.prune, ...plan.keep.keys()].sort()).toEqual(backups.map((b) => b.id).sort());
  });

  it("resolves wall times the way the cases above assume", () => {
    expect(at(BERLIN, "2026-03-29 02:30").createdAt.toISOString()).toBe("2026-03-29T01:30:00.000Z");
    expect(at(BERLIN, "2026-10-25 02:30").createdAt.toISOString()).toBe("2026-10-25T00:30:00.000Z");
    expect(at(BERLIN, "2026-10-25 02:30", { second: true }).createdAt.toISOString()).toBe("2026-10-25T01:30:00.000Z");
    expect(at(BERLIN, "2026-02-01 00:30").createdAt.toISOString()).toBe("2026-01-31T23:30:00.000Z");
    expect(at(NEW_YORK, "2026-03-08 02:30").createdAt.toISOString()).toBe("2026-03-08T07:30:00.000Z");
  });
});

describe("planRetention when backups fail", () => {
  it("keeps the last good backup through ten failed nights, and prunes the failures once a night succeeds", () => {
    const good = nightly(BERLIN, "2026-09-01", "2026-09-20");
    const failed = nightly(BERLIN, "2026-09-21", "2026-09-30", "02:00", { status: "failed" });

    const plan = planRetention([...good, ...failed], policy(7, 0, 0));
    const lastGoodWeek = dates("2026-09-14", "2026-09-20").map((d) => `${d} 02:00`);
    expect(keptIds(plan)).toEqual([...lastGoodWeek, ...failed.map((b) => b.id)].sort());
    expect(plan.keep.get("2026-09-20 02:00")).toEqual(["latest", "daily"]);

    expect(keptIds(planRetention([...good, ...failed], policy(0, 0, 0)))).toEqual(["2026-09-20 02:00", ...failed.map((b) => b.id)].sort());

    const recovered = planRetention([...good, ...failed, at(BERLIN, "2026-10-01 02:00")], policy(7, 0, 0));
    expect(recovered.prune).toEqual(expect.arrayContaining(failed.map((b) => b.id)));
    expect(keptIds(recovered)).toEqual(["2026-10-01 02:00", ...dates("2026-09-15", "2026-09-20").map((d) => `${d} 02:00`)].sort());
  });
});

describe("planRetention is deterministic", () => {
  const history = [
    ...nightly(NEW_YORK, "2025-06-01", "2026-07-31", "02:30"),
    ...dates("2025-06-01", "2026-07-31")
      .filter((_, i) => i % 9 === 0)
      .map((d) => at(NEW_YORK, `${d} 15:45`, { trigger: "manual" })),
    ...dates("2025-06-03", "2026-07-31")
      .filter((_, i) => i % 13 === 0)
      .map((d) => at(NEW_YORK, `${d} 04:00`, { status: "failed" })),
    at(NEW_YORK, "2026-08-01 02:30", { status: "failed" }),
    at(NEW_YORK, "2026-08-01 11:00", { status: "running" }),
  ];
  const p = policy(7, 4, 12, NEW_YORK);

  it("gives the same plan, in the same order, whatever the input order", () => {
    const reference = planRetention(history, p);
    expect(reference.keep.size).toBeGreaterThan(20);
    for (const seed of [1, 2, 3, 42]) {
      const plan = planRetention(shuffled(history, seed), p);
      expect([...plan.keep], `seed ${seed}`).toEqual([...reference.keep]);
      expect(plan.prune, `seed ${seed}`).toEqual(reference.prune);
    }
  });

  it("does not reorder or change its input, and a second pass prunes nothing", () => {
    const input = shuffled(history, 7);
    const before = input.map((b) => b.id);
    const plan = planRetention(input, p);
    expect(input.map((b) => b.id)).toEqual(before);
    expect(planRetention(input.filter((b) => plan.keep.has(b.id)), p).prune).toEqual([]);
  });
});

describe("planRetention validation", () => {
  const errorOf = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return error as Error & { problems?: string[] };
    }
    throw new Error("expected an error");
  };
  const valid = policy(7, 4, 12);

  it.each([
    { name: "a negative count", p: { ...valid, keepDaily: -1 }, message: "keepDaily must be a non-negative integer, got -1" },
    { name: "a fraction", p: { ...valid, keepWeekly: 1.5 }, message: "keepWeekly must be a non-negative integer, got 1.5" },
    { name: "NaN", p: { ...valid, keepMonthly: Number.NaN }, message: "keepMonthly must be a non-negative integer, got NaN" },
    { name: "Infinity", p: { ...valid, keepDaily: Infinity }, message: "keepDaily must be a non-negative integer, got Infinity" },
    { name: "a numeric string", p: { ...valid, keepDaily: "7" as unknown as number }, message: 'keepDaily must be a non-negative integer, got "7"' },
    { name: "an unknown time zone", p: { ...valid, timeZone: "Mars/Olympus" }, message: 'timeZone must be an IANA time zone such as "Europe/Berlin" or "UTC", got "Mars/Olympus"' },
    { name: "an empty time zone", p: { ...valid, timeZone: "" }, message: 'got ""' },
    { name: "a missing time zone", p: { ...valid, timeZone: undefined as unknown as string }, message: "timeZone must be an IANA time zone" },
  ])("rejects $name with a RetentionPolicyError", ({ p, message }) => {
    const error = errorOf(() => planRetention([], p));
    expect(error).toBeInstanceOf(RetentionPolicyError);
    expect(error.message).toContain(message);
  });

  it("names every problem of a policy at once", () => {
    const error = errorOf(() => planRetention([], { keepDaily: -1, keepWeekly: 0.5, keepMonthly: 12, timeZone: "Nowhere" }));
    expect(error.problems).toEqual([
      "keepDaily must be a non-negative integer, got -1",
      "keepWeekly must be a non-negative integer, got 0.5",
      'timeZone must be an IANA time zone such as "Europe/Berlin" or "UTC", got "Nowhere"',
    ]);
  });

  it.each([
    { name: "a repeated id", backups: [utc("x", "2026-01-01T02:00:00Z"), utc("x", "2026-01-02T02:00:00Z")], message: 'backup "x" appears twice' },
    { name: "an invalid date", backups: [utc("x", "not a date")], message: 'backup "x" has an invalid createdAt (Invalid Date)' },
    { name: "an unknown status", backups: [utc("x", "2026-01-01T02:00:00Z", { status: "deleted" as BackupStatus })], message: 'backup "x" has an unknown status "deleted"' },
  ])("refuses to plan over $name", ({ backups, message }) => {
    const error = errorOf(() => planRetention(backups, valid));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain(message);
  });
});
