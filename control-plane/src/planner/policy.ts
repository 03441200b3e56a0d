import { z } from "zod";
import { RunbookId } from "#protocol";

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** When disruptive runbooks may be ordered automatically, in the clinic's own time zone. */
export const MaintenanceWindow = z.strictObject({
  days: z.array(z.enum(WEEKDAYS)).min(1),
  start: z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, "use 24-hour HH:MM, for example 02:00"),
  duration_minutes: z
    .int()
    .min(15)
    .max(24 * 60),
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
 * One site's (tenant's) guardrail settings. Strict: an unknown key is refused with its path.
 * Defaults are conservative; an operator loosens them per site through the admin API.
 */
export const SitePolicy = z.strictObject({
  /** Runbooks automated tiers may order at this site; null: every catalog runbook. */
  runbook_allowlist: z.array(RunbookId).max(64).nullable().default(null),
  /** L2 choices below this confidence go to a human. */
  min_confidence: z.number().min(0).max(1).default(0.7),
  /** Cooldown per appliance and runbook, seconds; null: the runbook's own cooldown. */
  cooldown_s: z
    .int()
    .min(0)
    .max(30 * 86_400)
    .nullable()
    .default(null),
  /** Orders per incident, the appliance's own failed L1 attempt included. */
  max_attempts_per_incident: z.int().min(1).max(10).default(2),
  /** Automatic (L1/L2) orders per site per rolling hour. */
  max_orders_per_hour: z.int().min(0).max(10_000).default(10),
  /** Without a window, disruptive runbooks are never ordered automatically. */
  maintenance_window: MaintenanceWindow.nullable().default(null),
  /** Decide and record, but order nothing: every decision goes to the operator queue. */
  audit_only: z.boolean().default(false),
  /** Whether the L2 planner is consulted at all for this site. */
  l2_enabled: z.boolean().default(true),
});
export type SitePolicy = z.infer<typeof SitePolicy>;

export const DEFAULT_SITE_POLICY: SitePolicy = SitePolicy.parse({});

/** True when `now` falls inside the window (computed in the window's time zone). */
export function inMaintenanceWindow(window: MaintenanceWindow, now: Date): boolean {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: window.time_zone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const day = get("weekday").toLowerCase().slice(0, 3);
  const minuteOfWeek =
    WEEKDAYS.indexOf(day as (typeof WEEKDAYS)[number]) * 1440 +
    Number(get("hour")) * 60 +
    Number(get("minute"));
  const [h, m] = window.start.split(":").map(Number);
  const week = 7 * 1440;
  // A window may run past midnight (or past Sunday): compare on the circular week.
  return window.days.some((d) => {
    const start = WEEKDAYS.indexOf(d) * 1440 + (h ?? 0) * 60 + (m ?? 0);
    const offset = (minuteOfWeek - start + week) % week;
    return offset < window.duration_minutes;
  });
}
