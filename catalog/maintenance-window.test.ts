import { describe, expect, it } from "vitest";
import {
  inMaintenanceWindow,
  type MaintenanceWindow,
  zonedToInstant,
} from "./maintenance-window.ts";

const at = (iso: string) => new Date(iso);
const window = (over: Partial<MaintenanceWindow> = {}): MaintenanceWindow => ({
  days: ["sun"],
  start: "02:00",
  duration_minutes: 120,
  time_zone: "America/New_York",
  ...over,
});

describe("inMaintenanceWindow", () => {
  it("is never open without a window", () => {
    expect(inMaintenanceWindow(undefined, at("2026-11-22T07:30:00Z"))).toBe(false);
  });

  it("opens on the listed day at the local start and closes after the duration", () => {
    const w = window(); // Sunday 02:00–04:00 New York (EST, UTC-5, in November)
    expect(inMaintenanceWindow(w, at("2026-11-22T06:59:59Z"))).toBe(false);
    expect(inMaintenanceWindow(w, at("2026-11-22T07:00:00Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-11-22T08:59:59Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-11-22T09:00:00Z"))).toBe(false);
    // Same local time on a Saturday: closed.
    expect(inMaintenanceWindow(w, at("2026-11-21T07:30:00Z"))).toBe(false);
  });

  it("crosses midnight and belongs to the day it opened on", () => {
    const w = window({ days: ["sat"], start: "23:00", duration_minutes: 180 });
    // Saturday 23:30 and Sunday 01:30 local are inside; Sunday 02:00 is not.
    expect(inMaintenanceWindow(w, at("2026-11-22T04:30:00Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-11-22T06:30:00Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-11-22T07:00:00Z"))).toBe(false);
    // Sunday 23:30 local: Sunday is not a window day.
    expect(inMaintenanceWindow(w, at("2026-11-23T04:30:00Z"))).toBe(false);
  });

  it("spring forward: a start inside the skipped hour opens right after the gap", () => {
    // 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT.
    const w = window({ start: "02:30", duration_minutes: 60 });
    const opens = zonedToInstant("America/New_York", 2026, 3, 8, 2, 30);
    expect(new Date(opens).toISOString()).toBe("2026-03-08T07:30:00.000Z"); // 03:30 EDT
    expect(inMaintenanceWindow(w, at("2026-03-08T07:29:59Z"))).toBe(false);
    expect(inMaintenanceWindow(w, at("2026-03-08T07:30:00Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-03-08T08:29:59Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-03-08T08:30:00Z"))).toBe(false);
  });

  it("spring forward: the duration is real time across the jump", () => {
    // 01:00 EST for 120 real minutes ends at 04:00 EDT (03:00 wall never counted twice).
    const w = window({ start: "01:00", duration_minutes: 120 });
    expect(inMaintenanceWindow(w, at("2026-03-08T06:00:00Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-03-08T07:59:59Z"))).toBe(true);
    expect(inMaintenanceWindow(w, at("2026-03-08T08:00:00Z"))).toBe(false);
  });

  it("fall back: a start in the repeated hour opens at its first occurrence", () => {
    // 2026-11-01: New York clocks go from 02:00 EDT back to 01:00 EST.
    const w = window({ start: "01:30", duration_minutes: 30 });
    const opens = zonedToInstant("America/New_York", 2026, 11, 1, 1, 30);
    expect(new Date(opens).toISOString()).toBe("2026-11-01T05:30:00.000Z"); // 01:30 EDT
    expect(inMaintenanceWindow(w, at("2026-11-01T05:45:00Z"))).toBe(true);
    // The second 01:45 (EST) is after the 30 real minutes.
    expect(inMaintenanceWindow(w, at("2026-11-01T06:45:00Z"))).toBe(false);
  });

  it("uses the clinic's zone, not the machine's", () => {
    const w = window({
      days: ["mon"],
      start: "09:00",
      duration_minutes: 60,
      time_zone: "Asia/Kolkata",
    });
    expect(inMaintenanceWindow(w, at("2026-11-23T03:30:00Z"))).toBe(true); // 09:00 IST
    expect(inMaintenanceWindow(w, at("2026-11-23T09:00:00Z"))).toBe(false);
  });

  it("a 24-hour window every day is always open", () => {
    const w = window({
      days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
      start: "00:00",
      duration_minutes: 1440,
    });
    for (let h = 0; h < 48; h += 5) {
      expect(inMaintenanceWindow(w, new Date(Date.UTC(2026, 2, 7, h)))).toBe(true);
    }
  });
});
