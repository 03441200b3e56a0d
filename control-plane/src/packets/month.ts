import { z } from "zod";

/** A packet month: strictly YYYY-MM (01-12), never anything that could become a path. */
export const Month = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "use a month such as 2026-11 (YYYY-MM)");

/** [from, to) in RFC 3339 UTC for a YYYY-MM month. */
export function monthRange(month: string): { from: string; to: string } {
  const m = Month.parse(month);
  const [y, mo] = m.split("-").map(Number) as [number, number];
  const from = new Date(Date.UTC(y, mo - 1, 1)).toISOString();
  const to = new Date(Date.UTC(y, mo, 1)).toISOString();
  return { from, to };
}

/** The month before the one `now` is in (the first-of-month job's target). */
export function previousMonth(now: Date): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}
