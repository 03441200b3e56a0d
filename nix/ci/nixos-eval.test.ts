import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { evaluate, evaluatorReady, Report, report, targetNames } from "./evaluator.ts";
import { NIX_DIR, NIX_ENV, run, secretsTable, tempDir, writeFiles } from "./tools.ts";

/**
 * Every NixOS system the project ships or tests, evaluated by nixpkgs' lib.evalModules against
 * NixOS's real module files (the nixos-oracle test data: users, systemd, journald, timesyncd,
 * nftables, firewall, sshd, chrony, restic, sudo, audit, auditd, auto-upgrade, /etc), through
 * the flake itself (nix/ci/nixos/targets.nix). A failed assertion, an unknown option or a wrongly
 * typed value fails the evaluation, as it fails a NixOS build. The unit files and ruleset it
 * renders are checked with systemd-analyze and nft in nixos-units.test.ts.
 */
const MINIMAL_SITE = join(NIX_DIR, "ci", "nixos", "minimal-site.nix");
const SOPS_FIXTURE = join(NIX_DIR, "ci", "nixos", "fixtures", "site.secrets.yaml");
/** The appliance's secrets table (nix/lib/secrets.nix). */
const secrets = secretsTable();
const tmp = tempDir("nixos-eval-");
afterAll(tmp.remove);

describe.skipIf(!evaluatorReady)("the NixOS evaluator", () => {
  const targets = targetNames();

  it("covers the module, the appliance, the installer, every VM-test node and brokenSystem", () => {
    expect(targets.sort()).toEqual(
      [
        "appliance",
        "appliance-sops",
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
      expect(breakglass?.hashedPasswordFile).toMatch(
        target === "appliance-sops"
          ? /^\/run\/secrets-for-users\//
          : /^\/var\/lib\/compliance-agent-secrets\//,
      );
      expect(r.sudoWheelNeedsPassword).toBe(true);
      expect(r.nftablesEnabled).toBe(true);
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
    return evaluate("module-minimal", { extra: file });
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
      `{ lib, ... }: { services.compliance-agent.egressAllowlist = lib.mkForce (builtins.filter (e: e.purpose != "dns") (import ${MINIMAL_SITE}).egressAllowlist); }`,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/has no DNS server/);
  });

  it("stops at a state dir outside /var/lib, naming the option", () => {
    const r = negative("state-dir", `{ services.compliance-agent.stateDir = "/srv/agent"; }`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/stateDir must be one folder under \/var\/lib/);
  });

  it("with the privileged helper off, installs the agent's unit alone", () => {
    const [file] = writeFiles(tmp.dir, {
      "no-helper.nix": "{ services.compliance-agent.privilegedHelper.enable = false; }",
    });
    const r = evaluate("module-minimal", { extra: file });
    expect(r.code, r.stderr).toBe(0);
    const units = Object.keys(Report.parse(JSON.parse(r.stdout)).units);
    expect(units.filter((u) => u.startsWith("compliance-"))).toEqual(["compliance-agent.service"]);
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
    const r = evaluate("module-minimal", { extra: file });
    expect(r.code, r.stderr).toBe(0);
    expect(Report.parse(JSON.parse(r.stdout)).firewallEnabled).toBe(true);
    expect(report("appliance").firewallEnabled).toBe(false);
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

  describe("the appliance's secrets", () => {
    const inStore = (paths: Record<string, string | null>) =>
      Object.entries(paths).filter(([, p]) => p?.startsWith("/nix/store/"));

    it("from the installer: the table's root-only files, none in the Nix store", () => {
      const r = report("appliance");
      expect(inStore(r.secretPaths)).toEqual([]);
      expect(r.sopsSecrets).toEqual({});
      const installed = Object.values(secrets.files).map((f) => f.installed);
      for (const [reader, path] of Object.entries(r.secretPaths)) {
        if (path !== null) expect(installed, reader).toContain(path);
      }
      expect(r.secretPaths["services.restic.backups.clinic-data.passwordFile"]).toBe(
        secrets.files["restic-password"]?.installed,
      );
    });

    it("from the site's SOPS file: sops-nix secrets, root-only 0400, decrypted outside the store", () => {
      const r = report("appliance-sops");
      expect(inStore(r.secretPaths)).toEqual([]);
      expect(Object.keys(r.sopsSecrets).sort()).toEqual(Object.keys(secrets.files).sort());
      for (const [name, secret] of Object.entries(r.sopsSecrets)) {
        expect(secret, name).toEqual({
          path: secrets.files[name]?.neededForUsers
            ? `/run/secrets-for-users/${name}`
            : `/run/secrets/${name}`,
          mode: "0400",
          owner: "root",
          group: "root",
        });
      }
      const decrypted = Object.values(r.sopsSecrets).map((s) => s.path);
      for (const [reader, path] of Object.entries(r.secretPaths)) {
        if (path !== null) expect(decrypted, reader).toContain(path);
      }
      // The agent loads the token's folder: sops-nix's folder for it holds the token alone.
      expect(r.units["compliance-agent.service"]).toMatch(
        /^LoadCredential=enrollment:\/run\/secrets\/enrollment$/m,
      );
    });

    it("the site's file names every secret at the key sops-nix reads (a/b: b under a)", () => {
      const file = parseYaml(readFileSync(SOPS_FIXTURE, "utf8")) as Record<string, unknown>;
      expect(file).toHaveProperty("sops.mac");
      for (const name of Object.keys(secrets.files)) {
        const value = name
          .split("/")
          .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], file);
        expect(value, name).toMatch(/^ENC\[AES256_GCM,/);
      }
    });

    it("refuses a site whose SOPS file is missing", () => {
      const r = evaluate("appliance-sops", { sopsFile: join(tmp.dir, "absent.secrets.yaml") });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Cannot find path .*absent\.secrets\.yaml/);
    });

    it("refuses a restic password in the Nix store", () => {
      const r = negative(
        "store-secret",
        `{ services.compliance-agent.backupJobs = [ "x" ]; services.restic.backups.x = { repository = "s3:https://backup.example.net/x"; paths = [ "/srv" ]; passwordFile = "/nix/store/00000000000000000000000000000000-restic-password"; }; }`,
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/restic\.backups\.x\.passwordFile points into the Nix store/);
    });
  });
});
