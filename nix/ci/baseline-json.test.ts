import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "#catalog";
import { NIX_BASELINE_PATH, renderNixBaseline } from "./baseline-json.ts";
import { testSettings } from "./test-settings.ts";
import { NIX_DIR, REPO_ROOT, renderAppliance, tempDir } from "./tools.ts";

/** One source: baseline/hipaa-v1.yaml. Nix reads its committed JSON rendering, kept equal here. */
describe("the baseline as the module reads it", () => {
  it("nix/baseline/hipaa-v1.json is what baseline/hipaa-v1.yaml renders to (else run npm run nix:baseline)", async () => {
    const committed = JSON.parse(readFileSync(NIX_BASELINE_PATH, "utf8"));
    expect(committed).toEqual(JSON.parse(await renderNixBaseline()));
  });

  it("says for every toggle where it is made real, and for no other", async () => {
    const catalog = await loadCatalog(REPO_ROOT);
    const tmp = tempDir("nix-baseline-");
    const { baselineCoverage } = renderAppliance(testSettings(tmp.dir));
    tmp.remove();
    expect(Object.keys(baselineCoverage).sort()).toEqual(catalog.toggles.map((t) => t.id).sort());
    for (const toggle of catalog.toggles) {
      const coverage = baselineCoverage[toggle.id];
      const viaModule = toggle.nixos_options.every((o) =>
        o.startsWith("services.compliance-agent."),
      );
      // A toggle set only by agent options is made real by the module; any other by NixOS.
      if (viaModule) expect([toggle.id, coverage]).toEqual([toggle.id, "module"]);
      else expect([toggle.id, coverage]).not.toEqual([toggle.id, "module"]);
    }
  });

  it("declares every services.compliance-agent option the baseline names", async () => {
    const catalog = await loadCatalog(REPO_ROOT);
    const module = readFileSync(join(NIX_DIR, "module.nix"), "utf8");
    const named = catalog.toggles
      .flatMap((t) => t.nixos_options)
      .filter((o) => o.startsWith("services.compliance-agent."));
    expect(named.length).toBeGreaterThan(5);
    for (const option of named) {
      const path = option.slice("services.compliance-agent.".length);
      const declared =
        module.includes(`${path} = mkOption`) || module.includes(`${path} = readOnlyBaseline`);
      expect([option, declared]).toEqual([option, true]);
    }
  });

  it("renders the toggles into NixOS settings from the same values", async () => {
    const catalog = await loadCatalog(REPO_ROOT);
    const value = (id: string) => catalog.toggles.find((t) => t.id === id)?.value;
    const tmp = tempDir("nix-baseline-");
    const { baselineSettings } = renderAppliance(testSettings(tmp.dir));
    tmp.remove();
    expect(baselineSettings).toMatchObject({
      services: {
        openssh: {
          settings: {
            PasswordAuthentication: value("ssh-password-auth-disabled"),
            PermitRootLogin: value("ssh-root-login-disabled"),
            LogLevel: value("ssh-verbose-logging"),
            Ciphers: value("ssh-modern-crypto"),
          },
        },
        journald: { storage: value("journald-persistent"), extraConfig: "SystemMaxUse=2G" },
        restic: {
          backups: {
            "clinic-data": {
              timerConfig: { OnCalendar: "daily" },
              pruneOpts: ["--keep-daily 7", "--keep-weekly 5", "--keep-monthly 12"],
            },
          },
        },
      },
      users: { mutableUsers: false, users: { root: { hashedPassword: "!" } } },
      system: { autoUpgrade: { enable: false } },
    });
  });
});
