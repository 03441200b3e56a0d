import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { privateKeyFromSeed, publicKeyOf, publicKeyToBase64 } from "#protocol";
import { parseConfig } from "../../agent/src/config.ts";
import { underMemoryDenyWriteExecute } from "../../scripts/agent-runtime.ts";
import { AGENT_NODE_FLAGS } from "../../scripts/build-agent.ts";
import { TEST_ORDER_KEY_SEED } from "../tests/scenario-control-plane.ts";
import { NIX_DIR, REPO_ROOT, renderAppliance, run, tempDir } from "./tools.ts";

const haveNixHash = spawnSync("nix", ["--version"]).status === 0;

describe("packages.compliance-agent", () => {
  it("the wrapper's flags let the agent run under MemoryDenyWriteExecute, and the check can fail", () => {
    // PR_SET_MDWE (Linux 6.3+) is the kernel's form of the unit's MemoryDenyWriteExecute=yes,
    // set before Node runs the committed bundle the package wraps. (Not on the .ts sources:
    // Node strips types with WebAssembly, which --jitless turns off.)
    const mdwe = (flags: readonly string[]) => {
      const locked = underMemoryDenyWriteExecute(process.execPath, [
        ...flags,
        join(REPO_ROOT, "agent", "dist", "agent.mjs"),
        "--help",
      ]);
      return run([locked.command, ...locked.args]);
    };
    const jitless = mdwe(AGENT_NODE_FLAGS);
    if (jitless.code === 77) throw new Error("this kernel has no PR_SET_MDWE (Linux 6.3+ needed)");
    expect(jitless.stdout).toMatch(/^compliance-agent /);
    expect(jitless.code).toBe(0);
    // Without --jitless V8 needs W+X memory and aborts: the flag is what makes the setting safe.
    const jit = mdwe(AGENT_NODE_FLAGS.filter((f) => f !== "--jitless"));
    expect(jit.code).not.toBe(0);
  });
});

describe("packages.compliance-agent's Bun", () => {
  const bunNix = readFileSync(join(NIX_DIR, "bun.nix"), "utf8");
  const bunPackage = join(
    dirname(createRequire(import.meta.url).resolve("@oven/bun-linux-x64/package.json")),
  );

  it("is the release package.json pins for the tests and benches", () => {
    const pinned = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"))
      .devDependencies["@oven/bun-linux-x64"];
    expect(bunNix).toContain(`version = "${pinned}";`);
    expect(JSON.parse(readFileSync(join(bunPackage, "package.json"), "utf8")).version).toBe(pinned);
  });

  it.skipIf(!haveNixHash && !process.env.CI)(
    "has the fixed-output hash of the pinned npm package's binary, so the archive must hold those bytes",
    () => {
      // Bun's release archive unpacks to the one file `bun` (mode 0755 after postFetch); its NAR
      // hash is computed here from the npm package's copy of that file.
      const tmp = tempDir("bun-nar-");
      mkdirSync(join(tmp.dir, "out"));
      copyFileSync(join(bunPackage, "bin", "bun"), join(tmp.dir, "out", "bun"));
      chmodSync(join(tmp.dir, "out", "bun"), 0o755);
      const nar = run([
        "nix",
        "--extra-experimental-features",
        "nix-command",
        "hash",
        "path",
        "--type",
        "sha256",
        join(tmp.dir, "out"),
      ]);
      tmp.remove();
      expect(nar.code).toBe(0);
      const pinnedHash = bunNix.match(/hash = "(sha256-[A-Za-z0-9+/=]+)";/)?.[1];
      expect(pinnedHash).toBeDefined();
      expect(nar.stdout.trim()).toBe(pinnedHash);
    },
  );
});

describe("the example site and the VM tests", () => {
  it("the example site (nix/sites/example.json) renders with no failed assertion", () => {
    const site = JSON.parse(readFileSync(join(NIX_DIR, "sites", "example.json"), "utf8"));
    const tmp = tempDir("nix-site-");
    const rendered = renderAppliance({
      siteId: site.siteId,
      controlPlaneUrl: site.controlPlaneUrl,
      controlPlanePublicKey: site.controlPlanePublicKey,
      caFile: "/nix/store/00000000000000000000000000000000-example-ca.pem",
      egressAllowlist: site.egressAllowlist,
      firewall: { enable: true, managementNetworks: site.managementNetworks },
      maintenanceWindow: { ...site.maintenanceWindow, timeZone: site.timeZone },
      backupJobs: [site.backup.job],
      mode: site.mode,
      agentExecutable:
        "/nix/store/00000000000000000000000000000000-compliance-agent/bin/compliance-agent",
      configFile: "/nix/store/00000000000000000000000000000000-config.json",
      catalogDir: "/nix/store/00000000000000000000000000000000-compliance-agent/share/catalog",
      agentPath: ["/run/current-system/sw/bin"],
      helperPath: ["/run/current-system/sw/bin"],
      restoreTestPath: ["/run/current-system/sw/bin"],
      firewallRulesetPath: null,
    });
    tmp.remove();
    expect(rendered.failedAssertions).toEqual([]);
    expect(parseConfig(JSON.parse(rendered.configJson)).healing.mode).toBe("audit");
  });

  it("the VM tests pin the public half of the scenario control plane's test key", () => {
    const nix = readFileSync(join(NIX_DIR, "tests", "appliance-scenarios.nix"), "utf8");
    const key = publicKeyToBase64(publicKeyOf(privateKeyFromSeed(TEST_ORDER_KEY_SEED)));
    expect(nix).toContain(`testOrderPublicKey = "${key}";`);
  });
});
