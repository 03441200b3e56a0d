import { describe, expect, it } from "vitest";
import { fixture, instantClock, labCheckWorld, withOutput } from "../testing.ts";
import { versionDate } from "./check.ts";

const here = import.meta.dirname;
/** The recorded versions are from 2024-12-31; "now" a week later keeps them fresh. */
const NOW = new Date("2025-01-07T12:00:00Z");

describe("patching", () => {
  it("passes on the clean lab appliance, reporting what it compared", async () => {
    const world = await labCheckWorld({ clock: instantClock });
    const result = await world.run("patching");
    expect(result.status).toBe("pass");
    expect(result.pre_state).toMatchObject({
      current_system: expect.stringMatching(/^\/nix\/store\/[0-9a-z]{32}-nixos-system-/),
      nixpkgs_age_days: 10,
    });
    expect(result.pre_state?.current_system).toBe(result.pre_state?.expected_system);
  });

  it("reports an unapproved current generation, naming the link and both store paths", async () => {
    const world = await labCheckWorld({
      drifts: [{ kind: "generation_mismatch" }],
      clock: instantClock,
    });
    const result = await world.run("patching");
    expect(result.status).toBe("drift");
    expect(result.findings).toEqual([
      {
        code: "generation_mismatch",
        subject: "/run/current-system",
        expected: result.pre_state?.expected_system,
        observed: expect.stringMatching(/^\/nix\/store\//),
      },
    ]);
    expect(result.findings[0]?.observed).not.toBe(result.findings[0]?.expected);
  });

  it("reports a booted generation that is not the approved one", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      expected: {
        expected_system: "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-other",
      },
    });
    const result = await world.run("patching");
    expect(result.findings.map((f) => f.subject)).toEqual([
      "/run/current-system",
      "/run/booted-system",
    ]);
  });

  it("reports a stale nixpkgs against the baseline's patch-age-max-days", async () => {
    const world = await labCheckWorld({
      drifts: [{ kind: "generation_stale", days: 31 }],
      clock: instantClock,
    });
    const result = await world.run("patching");
    expect(result.findings).toMatchObject([
      {
        code: "generation_stale",
        subject: "nixpkgs",
        expected: "at most 30 days old",
        observed: 31,
      },
    ]);
    expect(result.severity).toBe("high");
    expect(result.citations).toEqual([
      "45 CFR 164.308(a)(1)(ii)(B)",
      "45 CFR 164.308(a)(5)(ii)(B)",
    ]);
  });

  it("reads the recorded flake-built output (keys sorted by builtins.toJSON)", async () => {
    const world = await labCheckWorld({
      now: NOW,
      clock: { ...instantClock, now: () => NOW },
      host: withOutput("nixos-version", { stdout: fixture(here, "nixos-version-flake.json") }),
    });
    const result = await world.run("patching");
    expect(result.status).toBe("pass");
    expect(result.pre_state).toMatchObject({
      nixos_version: "24.11.20241231.edf04b7",
      nixpkgs_revision: "edf04b75c13c2ac0e54df5ec5c543e300f76f1c9",
      configuration_revision: "3f1c2a9d8e7b6a5c4d3e2f1a0b9c8d7e6f5a4b3c",
      nixpkgs_age_days: 7,
    });
  });

  it("reads a dirty flake build (no revisions) and still ages it", async () => {
    const world = await labCheckWorld({
      now: NOW,
      clock: { ...instantClock, now: () => NOW },
      host: withOutput("nixos-version", { stdout: fixture(here, "nixos-version-dirty.json") }),
    });
    const result = await world.run("patching");
    expect(result).toMatchObject({
      status: "pass",
      pre_state: { nixpkgs_revision: null, nixpkgs_age_days: 7 },
    });
  });

  it("is an error, not a pass, for a channel build whose version carries no date", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("nixos-version", { stdout: fixture(here, "nixos-version-channel.json") }),
    });
    expect(await world.run("patching")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/cannot tell the nixpkgs date from version 23\.11\.5432/),
    });
  });

  it.each([
    ["not JSON", "24.11.20241231.edf04b7 (Vicuna)\n"],
    [
      "JSON without nixosVersion",
      '{"nixpkgsRevision":"edf04b75c13c2ac0e54df5ec5c543e300f76f1c9"}\n',
    ],
    ["empty", ""],
  ])("is an error for malformed output (%s)", async (_, stdout) => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("nixos-version", { stdout }),
    });
    expect((await world.run("patching")).status).toBe("error");
  });

  it("is an error when nixos-version fails", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: withOutput("nixos-version", { stdout: "", code: 1, stderr: "nixos-version: broken\n" }),
    });
    expect(await world.run("patching")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/exited 1/),
    });
  });

  it("is an error when /run/current-system is not a link (not NixOS, or not visible)", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      host: (lab) => ({ ...lab, readlink: async () => undefined }),
    });
    expect(await world.run("patching")).toMatchObject({
      status: "error",
      reason: expect.stringMatching(/current-system/),
    });
  });

  it("is skipped without config host.expected_system", async () => {
    const world = await labCheckWorld({
      clock: instantClock,
      expected: { expected_system: undefined } as never,
    });
    expect(await world.run("patching")).toMatchObject({
      status: "skipped",
      reason: expect.stringMatching(/expected_system/),
    });
  });

  it("dates versions the way flakes write them", () => {
    expect(versionDate("24.11.20241231.edf04b7")).toBe(Date.UTC(2024, 11, 31));
    expect(versionDate("25.05pre-git.20250101.dirty")).toBe(Date.UTC(2025, 0, 1));
    expect(versionDate("23.11.5432.abcdef0")).toBeUndefined();
    expect(versionDate("24.11")).toBeUndefined();
  });
});
