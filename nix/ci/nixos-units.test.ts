import { accessSync, constants, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  evaluatorReady,
  type Report,
  report,
  targetNames,
  unitPath,
  unitRoot,
} from "./evaluator.ts";
import { exposureScore, nftCheck, REPO_ROOT, tempDir, verifyUnits, writeFiles } from "./tools.ts";

/**
 * The unit files and the nftables ruleset exactly as NixOS writes them (the evaluator's output,
 * nix/ci/nixos), checked with the real tools: `systemd-analyze verify` and `security
 * --offline=true` against a scratch root holding the unit texts unchanged and the stub store as
 * stand-in executables (a package has only the programs the real nixpkgs package has in bin/),
 * and `nft -c -f` on networking.nftables.ruleset. Each check is also shown failing on a broken
 * input, so none of them can pass by construction.
 */
const tmp = tempDir("nixos-units-");
afterAll(tmp.remove);

/** The project's own units (the module's four and the health gate's two). */
const OWN = [
  "compliance-agent.service",
  "compliance-agent-privileged.socket",
  "compliance-agent-privileged.service",
  "compliance-restore-test@.service",
  "compliance-agent-health-gate.service",
  "compliance-agent-health-gate.path",
];
/** systemd-analyze takes a template only as an instance: the test restore as 50-clinic-data. */
const instance = (name: string) => name.replace("@.service", "@50-clinic-data.service");

/** The registry of every program a check, action or helper runs, per unit. */
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

/** The file `program` resolves to on `path` inside `root`, as execvp would find it. */
function resolve(root: string, path: readonly string[], program: string): string | undefined {
  for (const folder of path) {
    const file = join(root, folder, program);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

const roots = new Map<string, string>();
function rootOf(target: string, system: Report = report(target)): string {
  const known = roots.get(target);
  if (known) return known;
  const root = unitRoot(
    join(tmp.dir, target),
    system,
    OWN.filter((name) => system.units[name] !== undefined),
  );
  roots.set(target, root);
  return root;
}

describe.skipIf(!evaluatorReady)("the units NixOS writes", () => {
  const targets = targetNames();
  const withAgent = targets.filter((t) => t !== "installer");

  it.each(withAgent)("%s: the project's units pass systemd-analyze verify --root", (target) => {
    const r = report(target);
    const own = OWN.filter((name) => r.units[name] !== undefined);
    expect(own).toContain("compliance-agent.service");
    const result = verifyUnits(rootOf(target, r), own.map(instance));
    expect(result.stderr).toBe("");
    expect(result.ok).toBe(true);
  });

  it.each(withAgent)(
    "%s: every program of the registry resolves on its unit's PATH as rendered",
    (target) => {
      const r = report(target);
      const root = rootOf(target, r);
      for (const [unit, programs] of Object.entries(registry.units)) {
        const text = r.units[unit];
        expect(text, `${target}: ${unit} is not rendered`).toBeDefined();
        const path = unitPath(text ?? "");
        expect(path, `${target}: ${unit} sets no PATH`).toBeDefined();
        for (const program of Object.keys(programs)) {
          expect(
            resolve(root, path ?? [], program),
            `${target}: ${unit} cannot find ${program}`,
          ).toBeDefined();
        }
      }
      // The helper and the test restore run NixOS's per-job restic wrappers (restic-<job>, in
      // the system profile only).
      for (const reader of [
        "compliance-agent-privileged.service",
        "compliance-restore-test@.service",
      ]) {
        const path = unitPath(r.units[reader] ?? "") ?? [];
        for (const job of r.profileBins.filter((p) => /^restic-[a-z]/.test(p))) {
          expect(resolve(root, path, job), `${target}: ${reader} cannot find ${job}`).toBeDefined();
        }
      }
    },
  );

  it("the appliance has the four agent units, the gate's two and NixOS's own", () => {
    const names = Object.keys(report("appliance").units);
    for (const name of OWN) expect(names).toContain(name);
    expect(names).toContain("restic-backups-clinic-data.service");
  });

  it("a typo'd key, a bad value, a program the package lacks or a missing package fails verify", () => {
    const r = report("appliance");
    const root = rootOf("appliance", r);
    const agent = r.units["compliance-agent.service"] ?? "";
    const execStart = /^ExecStart=(\S+)/m.exec(agent)?.[1] ?? "";
    const units = join(root, "etc", "systemd", "system");
    writeFiles(units, {
      "typo.service": agent.replace("Type=notify", "Tpye=notify"),
      "value.service": agent.replace("Restart=always", "Restart=sometimes"),
      "program.service": agent.replace(execStart, execStart.replace(/\/bin\/.*/, "/bin/node")),
    });
    for (const unit of ["typo.service", "value.service", "program.service"]) {
      expect(verifyUnits(root, [unit]).ok, unit).toBe(false);
    }
    // The same root without the agent's package: ExecStart= no longer resolves.
    const bare = unitRoot(
      join(tmp.dir, "no-agent"),
      {
        ...r,
        store: Object.fromEntries(
          Object.entries(r.store).filter(([path]) => !execStart.startsWith(`${path}/`)),
        ),
      },
      ["compliance-agent.service"],
    );
    const missing = verifyUnits(bare, ["compliance-agent.service"]);
    expect(missing.ok).toBe(false);
    expect(missing.stderr).toMatch(/is not executable/);
    rmSync(join(tmp.dir, "no-agent"), { recursive: true, force: true });
  });

  it("the agent unit's exposure is 2.0 or better; the helper's and the restore's are reported", () => {
    const r = report("appliance");
    const root = rootOf("appliance", r);
    const agent = exposureScore(root, "compliance-agent.service");
    const helper = exposureScore(root, "compliance-agent-privileged.service");
    const restoreTest = exposureScore(root, instance("compliance-restore-test@.service"));
    console.info(JSON.stringify({ exposure: { agent, helper, restoreTest } }));
    expect(agent).toBeLessThanOrEqual(2.0);
    expect(helper).toBeLessThan(10);
    // Root with network for an off-site repository, but far tighter than the helper.
    expect(restoreTest).toBeLessThan(helper);
    // Without its sandbox the same unit scores far worse: the gate measures something.
    const bare = (r.units["compliance-agent.service"] ?? "")
      .split("\n")
      .filter((line) => !/^(Protect|Private|Restrict|SystemCall|Capability)/.test(line))
      .join("\n");
    writeFiles(join(root, "etc", "systemd", "system"), { "bare.service": bare });
    expect(exposureScore(root, "bare.service")).toBeGreaterThan(2.0);
  });

  it("run the agent unprivileged, with the contract's socket and the egress narrowed per unit", () => {
    const r = report("appliance");
    const agent = r.units["compliance-agent.service"] ?? "";
    expect(agent).toMatch(/^User=compliance-agent$/m);
    expect(agent).toMatch(/^CapabilityBoundingSet=$/m);
    expect(agent).toMatch(/^IPAddressDeny=any$/m);
    // control-plane, worm and dns entries of nix/sites/example.json; not NTP or the backup host.
    // The resolver has a UDP and a TCP entry: listed once.
    expect(agent).toMatch(/^IPAddressAllow=localhost 192\.0\.2\.10 192\.0\.2\.11 192\.0\.2\.53$/m);
    expect(agent).not.toMatch(/^IPAddressAllow=.*(192\.0\.2\.123|198\.51\.100\.20)/m);
    expect(agent).toMatch(
      /^ExecStart=\/nix\/store\/\S+-compliance-agent\/bin\/compliance-agent --config \/nix\/store\/\S+-compliance-agent-config\.json$/m,
    );
    const socket = r.units["compliance-agent-privileged.socket"] ?? "";
    for (const line of ["SocketMode=0660", "SocketUser=root", "SocketGroup=compliance-agent"]) {
      expect(socket).toContain(line);
    }
    expect(r.units["compliance-agent-privileged.service"]).toMatch(
      /^ExecStart=\S+\/bin\/compliance-agent privileged-helper --config /m,
    );
  });

  it.each(withAgent)("%s: nft -c -f accepts networking.nftables.ruleset", (target) => {
    const ruleset = report(target).ruleset;
    expect(ruleset).not.toBeNull();
    const [file = ""] = writeFiles(tmp.dir, { [`${target}.nft`]: ruleset ?? "" });
    const result = nftCheck(file);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("a broken ruleset or one naming a user fails nft -c -f (the check can fail)", () => {
    const ruleset = report("appliance").ruleset ?? "";
    expect(ruleset).toMatch(/policy drop;/);
    const [broken = "", userRule = ""] = writeFiles(tmp.dir, {
      "broken.nft": ruleset.replace("policy drop;", "policy dorp;"),
      // Why rules never name a user: a DynamicUser does not exist when the ruleset loads.
      "user.nft": ruleset.replace(
        'oifname "lo" accept',
        'oifname "lo" accept\n    meta skuid "compliance-agent-nonexistent" accept',
      ),
    });
    expect(nftCheck(broken).code).not.toBe(0);
    const user = nftCheck(userRule);
    expect(user.code).not.toBe(0);
    expect(user.stderr).toMatch(/User|not exist|Could not resolve/i);
  });
});
