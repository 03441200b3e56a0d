import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { NIX_DIR, NIX_ENV, nftCheck, REPO_ROOT, run, tempDir, writeFiles } from "./tools.ts";

/**
 * Every NixOS system the project ships or tests, evaluated by nixpkgs' lib.evalModules against
 * NixOS's real module files (the nixos-oracle test data: users, systemd, journald, timesyncd,
 * nftables, firewall, sshd, chrony, restic, sudo, audit, auditd, auto-upgrade, /etc), through
 * the flake itself (nix/ci/nixos/targets.nix). A failed assertion, an unknown option or a wrongly
 * typed value fails the evaluation, as it fails a NixOS build.
 */
const ORACLE = join(REPO_ROOT, "..", "shared", "testdata", "nixos-oracle");
const TARGETS = join(NIX_DIR, "ci", "nixos", "targets.nix");
const haveNix = run(["nix-instantiate", "--version"], { env: NIX_ENV }).code === 0;
const haveOracle = (() => {
  try {
    readFileSync(join(ORACLE, "nixos.sha256"));
    return true;
  } catch {
    return false;
  }
})();
const ready = haveNix && haveOracle;
if (!ready && process.env.CI === "true") {
  throw new Error(
    "CI needs nix-instantiate and the nixos-oracle test data for the NixOS evaluator",
  );
}

const Report = z.object({
  optionsForced: z.number(),
  warnings: z.array(z.string()),
  units: z.record(z.string(), z.string()),
  users: z.record(
    z.string(),
    z.object({
      isNormalUser: z.boolean(),
      extraGroups: z.array(z.string()),
      hashedPasswordFile: z.string().nullable(),
      keys: z.array(z.string()),
    }),
  ),
  sudoWheelNeedsPassword: z.boolean(),
  nftablesEnabled: z.boolean(),
  firewallEnabled: z.boolean(),
  nameservers: z.array(z.string()),
  ruleset: z.string().nullable(),
});

function evaluate(target: string, extra?: string) {
  const argv: [string, ...string[]] = [
    "nix-instantiate",
    "--eval",
    "--strict",
    "--json",
    TARGETS,
    "--arg",
    "oracle",
    ORACLE,
    "--argstr",
    "target",
    target,
  ];
  if (extra) argv.push("--arg", "extra", extra);
  return run(argv, { env: { ...NIX_ENV, NIXOS_ORACLE: ORACLE }, timeoutMs: 120_000 });
}

function report(target: string) {
  const result = evaluate(target);
  if (result.code !== 0) throw new Error(`${target} does not evaluate:\n${result.stderr}`);
  return Report.parse(JSON.parse(result.stdout));
}

/** store path folder "/nix/store/<hash>-<name>/bin" → name, as the stub packages are named. */
function packageOf(folder: string): string | undefined {
  return /^\/nix\/store\/[0-9a-z]{32}-(.+)\/bin$/.exec(folder)?.[1];
}

const Registry = z.strictObject({
  $comment: z.string(),
  units: z.record(
    z.string(),
    z.record(z.string(), z.strictObject({ package: z.string(), usedBy: z.array(z.string()) })),
  ),
});
const registry = Registry.parse(
  JSON.parse(readFileSync(join(REPO_ROOT, "agent", "src", "host", "programs.json"), "utf8")),
);

const tmp = tempDir("nixos-eval-");
afterAll(tmp.remove);

describe.skipIf(!ready)("the NixOS evaluator", () => {
  const targets = z
    .array(z.string())
    .parse(
      JSON.parse(
        run(
          ["nix-instantiate", "--eval", "--strict", "--json", TARGETS, "--arg", "oracle", ORACLE],
          { env: NIX_ENV },
        ).stdout,
      ),
    );

  it("covers the module, the appliance, the installer, every VM-test node and brokenSystem", () => {
    expect(targets.sort()).toEqual(
      [
        "appliance",
        "brokenSystem",
        "installer",
        "module-minimal",
        "vm-bad-signature",
        "vm-control-plane-down",
        "vm-dns-failure",
        "vm-expired-ttl",
        "vm-rebuild-failure",
      ].sort(),
    );
  });

  const bins = JSON.parse(
    run(
      [
        "nix-instantiate",
        "--eval",
        "--strict",
        "--json",
        join(NIX_DIR, "ci", "nixos", "package-bins.nix"),
      ],
      { env: NIX_ENV },
    ).stdout,
  ) as Record<string, string[]>;

  it.each(targets)(
    "%s evaluates with no failed assertion, unknown or mistyped option",
    (target) => {
      const r = report(target);
      for (const warning of r.warnings) console.warn(`${target}: warning: ${warning}`);
      expect(r.warnings).toEqual([]);
      expect(r.optionsForced).toBeGreaterThan(100);
      if (target === "installer") return;
      // The break-glass path: a wheel account that can log in and use sudo (which asks for the
      // password the installer stored).
      const breakglass = r.users["msp-breakglass"];
      expect(breakglass?.extraGroups).toContain("wheel");
      expect(breakglass?.hashedPasswordFile).toMatch(/^\/var\/lib\/compliance-agent-secrets\//);
      expect(r.sudoWheelNeedsPassword).toBe(true);
      expect(r.nftablesEnabled).toBe(true);

      // Every program of the registry resolves on the PATH NixOS renders for its unit.
      for (const [unit, programs] of Object.entries(registry.units)) {
        const text = r.units[unit];
        expect(text, `${target}: ${unit} is not rendered`).toBeDefined();
        const path = /^Environment="?PATH=([^"\n]*)"?$/m.exec(text ?? "")?.[1];
        expect(path, `${target}: ${unit} sets no PATH`).toBeDefined();
        const provided = new Set(
          (path ?? "").split(":").flatMap((folder) => bins[packageOf(folder) ?? ""] ?? []),
        );
        for (const program of Object.keys(programs)) {
          expect(provided.has(program), `${target}: ${unit} cannot find ${program}`).toBe(true);
        }
      }
    },
  );

  it("loads the enrollment token's folder, so a skipped token does not fail the unit", () => {
    const unit = report("appliance").units["compliance-agent.service"] ?? "";
    expect(unit).toMatch(
      /^LoadCredential=enrollment:\/var\/lib\/compliance-agent-secrets\/enrollment$/m,
    );
    expect(unit).not.toMatch(/^LoadCredential=[^\n]*\/token$/m);
    expect(unit).toContain("COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH=%d/enrollment_token");
  });

  it("lets the test restore chown (restic restore gives files their owners)", () => {
    const unit = report("appliance").units["compliance-restore-test@.service"] ?? "";
    const filters = [...unit.matchAll(/^SystemCallFilter=(.*)$/gm)].map((m) => m[1]);
    expect(filters.indexOf("@chown")).toBeGreaterThan(filters.findIndex((f) => f?.startsWith("~")));
  });

  const negative = (name: string, module: string) => {
    const [file] = writeFiles(tmp.dir, { [`${name}.nix`]: module });
    return evaluate("module-minimal", file);
  };

  it("fails on a removed option", () => {
    const r = negative("removed", `{ services.timesyncd.extraConfig = "x"; }`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/services\.timesyncd\.extraConfig.*(removed|no longer)/s);
  });

  it("fails on an unknown option", () => {
    const r = negative(
      "unknown",
      `{ services.openssh.settings.PasswordAuthentication = false; services.openssh.permitRootLogn = "no"; }`,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/permitRootLogn' does not exist/);
  });

  it("fails on a wrongly typed value", () => {
    const r = negative("wrong-type", `{ services.openssh.ports = "22"; }`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/services\.openssh\.ports' is not of type/);
  });

  it("fails NixOS's lock-out assertion without the break-glass password", () => {
    const r = negative(
      "lock-out",
      `{ lib, ... }: { users.users.msp-breakglass.hashedPasswordFile = lib.mkForce null; services.compliance-agent.breakglassKeys = lib.mkForce [ ]; }`,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /Neither the root account nor any wheel user has a password or SSH authorized key/,
    );
  });

  it("resolves through the allowlisted DNS server, not the one DHCP offers", () => {
    expect(report("appliance").nameservers).toEqual(["192.0.2.53"]);
    const r = negative(
      "no-dns",
      `{ lib, ... }: { services.compliance-agent.egressAllowlist = lib.mkForce [ { address = "192.0.2.10"; ports = [ 443 ]; purpose = "control-plane"; } { address = "192.0.2.123"; ports = [ 4460 ]; purpose = "ntp"; } { address = "192.0.2.123"; protocol = "udp"; ports = [ 123 ]; purpose = "ntp"; } ]; }`,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/has no DNS server/);
  });

  it("refuses time servers the egress allowlist does not let chrony reach", () => {
    const r = negative(
      "ntp-address",
      `{ services.compliance-agent.timeServers = [ "198.51.100.99" ]; }`,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/timeServers gives an address that no egressAllowlist entry/);
  });

  it("keeps NixOS's own firewall when the module's ruleset is turned off", () => {
    const [file] = writeFiles(tmp.dir, {
      "no-ruleset.nix": "{ services.compliance-agent.firewall.enable = false; }",
    });
    const r = evaluate("module-minimal", file);
    expect(r.code, r.stderr).toBe(0);
    expect(Report.parse(JSON.parse(r.stdout)).firewallEnabled).toBe(true);
    expect(report("appliance").firewallEnabled).toBe(false);
  });

  it("gives nft -c the ruleset NixOS would load (networking.nftables.ruleset)", () => {
    const ruleset = report("appliance").ruleset ?? "";
    const [good = "", broken = ""] = writeFiles(tmp.dir, {
      "appliance.nft": ruleset,
      "broken.nft": ruleset.replace("policy drop;", "policy dorp;"),
    });
    expect(nftCheck(good).code, nftCheck(good).stderr).toBe(0);
    expect(nftCheck(broken).code).not.toBe(0);
  });

  it("has no default siteId (a site must name itself)", () => {
    const r = run(
      [
        "nix-instantiate",
        "--eval",
        "--strict",
        "--json",
        "-E",
        `(import ${join(NIX_DIR, "lib", "defaults.nix")}) ? siteId`,
      ],
      { env: NIX_ENV },
    );
    expect(r.stdout.trim()).toBe("false");
  });
});
