import { z } from "zod";

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9][0-9]{0,5})([smhd])$/;

/** Durations as authors write them: `90s`, `15m`, `6h`, `7d`. */
export function durationMs(text: string): number {
  const match = DURATION.exec(text);
  if (match === null) throw new RangeError(`not a duration: ${JSON.stringify(text)}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** A duration string bounded to [min, max], so an author cannot write a 0 cooldown or a day-long timeout. */
export function Duration(min: string, max: string) {
  const lo = durationMs(min);
  const hi = durationMs(max);
  return z
    .string()
    .regex(DURATION, "write a duration such as 90s, 15m, 6h or 7d")
    .refine((text) => !DURATION.test(text) || (durationMs(text) >= lo && durationMs(text) <= hi), {
      message: `must be between ${min} and ${max}`,
    });
}
