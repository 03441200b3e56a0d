import { z } from "zod";

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/**
 * When disruptive runbooks (a rebuild, a reboot) may run, in the clinic's own time zone. The
 * agent's config and the control plane's site policy use this one schema; without a window,
 * disruptive runbooks never run automatically.
 */
export const MaintenanceWindow = z.strictObject({
  days: z.array(z.enum(WEEKDAYS)).min(1),
  /** Local start time, 24-hour HH:MM. */
  start: z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, "use 24-hour HH:MM, for example 02:00"),
  duration_minutes: z
    .int()
    .min(15)
    .max(24 * 60),
  /** IANA time zone of the clinic, for example America/Chicago. */
  time_zone: z.string().refine(isTimeZone, "use an IANA time zone such as America/Chicago"),
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `now` falls inside the maintenance window, evaluated in the clinic's IANA time zone.
 * A window opens on each listed day at the local start time and lasts `duration_minutes` of real
 * time, so it may cross midnight (it then belongs to the day it opened on). Local times follow
 * Temporal's "compatible" disambiguation: a start inside a spring-forward gap opens at the same
 * offset as before the gap (02:30 in a 02:00–03:00 gap opens at 03:30), and a start in a repeated
 * fall-back hour opens at its first occurrence. No window: never inside.
 */
const DAY_INDEX: Record<MaintenanceWindow["days"][number], number> = {
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
};
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export function inMaintenanceWindow(window: MaintenanceWindow | undefined, now: Date): boolean {
  if (window === undefined) return false;
  const nowMs = now.getTime();
  const [hours, minutes] = window.start.split(":").map(Number) as [number, number];
  const days = new Set(window.days.map((d) => DAY_INDEX[d]));
  const local = localParts(window.time_zone, nowMs);
  // A window that is open now opened today or on one of the days before (duration ≤ 24 h).
  for (let back = 0; back <= 2; back++) {
    const civil = new Date(Date.UTC(local.year, local.month - 1, local.day - back));
    if (!days.has(civil.getUTCDay())) continue;
    const opens = zonedToInstant(
      window.time_zone,
      civil.getUTCFullYear(),
      civil.getUTCMonth() + 1,
      civil.getUTCDate(),
      hours,
      minutes,
    );
    if (nowMs >= opens && nowMs < opens + window.duration_minutes * MINUTE) return true;
  }
  return false;
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(timeZone: string, ms: number): LocalParts {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(ms)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return parts as unknown as LocalParts;
}

/** The zone's UTC offset (ms, local minus UTC) at an instant. */
function offsetAt(timeZone: string, ms: number): number {
  const p = localParts(timeZone, ms);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (ms - (ms % 1000));
}

/** The instant of a local wall-clock time ("compatible" disambiguation). */
export function zonedToInstant(
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const before = offsetAt(timeZone, wall - DAY);
  const after = offsetAt(timeZone, wall + DAY);
  const valid = [before, after]
    .map((offset) => wall - offset)
    .filter((instant) => wall - offsetAt(timeZone, instant) === instant);
  // Ambiguous (fall back): the earlier instant. Valid once: that one. In a gap: the offset
  // from before the transition, which lands after the gap.
  if (valid.length > 0) return Math.min(...valid);
  return wall - before;
}
