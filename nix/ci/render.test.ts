import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../agent/src/config.ts";
import { AGENT_NODE_FLAGS } from "../../scripts/build-agent.ts";
import { TEST_PUBLIC_KEY, testSettings } from "./test-settings.ts";
import {
  exposureScore,
  nftCheck,
  renderAppliance,
  tempDir,
  verifyUnits,
  writeFiles,
} from "./tools.ts";

/**
 * What the module deploys, rendered by the module's own functions (nix/lib through
 * nix/ci/render.nix) and checked with the real tools. Each check is also shown failing on a
 * broken input, so none of them can pass by construction.
 */
const tmp = tempDir("nix-render-");
afterAll(tmp.remove);
const settings = testSettings(tmp.dir);
const rendered = renderAppliance(settings);

describe("the agent's config file", () => {
  it("passes the agent's own strict parser with the module's values", () => {
    expect(rendered.failedAssertions).toEqual([]);
    const config = parseConfig(JSON.parse(rendered.configJson), {}, "rendered config.json");
    expect(config).toMatchObject({
      control_plane_url: "https://cp.example.net",
      order_signing_public_key: TEST_PUBLIC_KEY,
      state_dir: "/var/lib/compliance-agent",
      evidence_key_path: "/var/lib/compliance-agent/evidence-key.pem",
      privileged_socket_path: "/run/compliance-agent-privileged.sock",
      catalog_dir: settings.catalogDir,
      host: {
        backup_jobs: ["clinic-data"],
        luks_volumes: ["cryptroot"],
        firewall_ruleset_path: "/etc/compliance-agent/nftables.json",
      },
      healing: {
        mode: "enforce",
        check_interval_s: 300,
        maintenance_window: {
          days: ["sat", "sun"],
          start: "02:00",
          duration_minutes: 120,
          time_zone: "America/Chicago",
        },
      },
    });
    // The token is a systemd credential, never a path in the world-readable config.
    expect(rendered.configJson).not.toContain("enrollment");
  });

  it("leaves out what is unset, and the parser fills the agent's defaults", () => {
    const plain = renderAppliance(
      testSettings(tmp.dir, {
        mode: "audit",
        maintenanceWindow: null,
        privilegedHelper: { enable: false },
      }),
    );
    const json = JSON.parse(plain.configJson);
    expect(json).not.toHaveProperty("privileged_socket_path");
    expect(json.healing).not.toHaveProperty("maintenance_window");
    expect(parseConfig(json).healing.mode).toBe("audit");
    expect(Object.keys(plain.units).sort()).toEqual(["compliance-agent.service"]);
  });

  it("is refused by the agent's parser when a value is wrong (the check can fail)", () => {
    const bad = renderAppliance(
      testSettings(tmp.dir, { controlPlaneUrl: "http://cp.example.net" }),
    );
    expect(bad.failedAssertions.join("\n")).toMatch(/controlPlaneUrl must be https/);
    expect(() => parseConfig(JSON.parse(bad.configJson))).toThrow(/control_plane_url/);
  });
});

describe("assertions for impossible combinations", () => {
  it.each([
    ["enforce mode without a catalog", { catalogDir: null }, /needs a catalog/],
    [
      "enforce mode without the privileged helper",
      { privilegedHelper: { enable: false } },
      /needs privilegedHelper.enable/,
    ],
    [
      "a maintenance window on no day",
      {
        maintenanceWindow: { days: [], start: "02:00", durationMinutes: 60, timeZone: "UTC" },
      },
      /maintenanceWindow.days is empty/,
    ],
    [
      "a maintenance window at 25:00",
      {
        maintenanceWindow: { days: ["mon"], start: "25:00", durationMinutes: 60, timeZone: "UTC" },
      },
      /HH:MM/,
    ],
    [
      "an egress firewall with no way to the control plane",
      { egressAllowlist: settings.egressAllowlist.filter((e) => e.purpose !== "control-plane") },
      /no entry with purpose = "control-plane"/,
    ],
    [
      "an egress firewall with no DNS server",
      { egressAllowlist: settings.egressAllowlist.filter((e) => e.purpose !== "dns") },
      /has no DNS server/,
    ],
    [
      "an egress firewall that does not let chrony reach NTP",
      {
        egressAllowlist: settings.egressAllowlist.filter(
          (e) => !(e.purpose === "ntp" && e.protocol === "udp"),
        ),
      },
      /TCP 4460 \(NTS-KE\) and UDP 123/,
    ],
    [
      "an enrollment token in the Nix store",
      { enrollmentTokenFile: "/nix/store/0000-token" },
      /points into the Nix store/,
    ],
    ["a short order key", { controlPlanePublicKey: "AAAA" }, /raw 32-byte Ed25519/],
    ["jitter above 50 %", { jitter: 0.9 }, /jitter must be between/],
  ])("%s", (_name, overrides, message) => {
    const result = renderAppliance(testSettings(tmp.dir, overrides));
    expect(result.failedAssertions).toHaveLength(1);
    expect(result.failedAssertions[0]).toMatch(message);
  });

  it("a state dir outside /var/lib stops evaluation with the option's name", () => {
    expect(() => renderAppliance(testSettings(tmp.dir, { stateDir: "/srv/agent" }))).toThrow(
      /stateDir must be one folder under \/var\/lib/,
    );
  });
});

describe("the nftables ruleset", () => {
  it("passes nft -c -f", () => {
    const [path = ""] = writeFiles(tmp.dir, { "ruleset.nft": rendered.ruleset });
    const result = nftCheck(path);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("drops by default in both directions and allows exactly the allowlist out", () => {
    expect(rendered.ruleset).toMatch(/hook input priority filter; policy drop;/);
    expect(rendered.ruleset).toMatch(/hook output priority filter; policy drop;/);
    expect(rendered.ruleset).toContain(
      'ip daddr 192.0.2.10 tcp dport { 443 } accept comment "control-plane"',
    );
    expect(rendered.ruleset).toContain("ip6 daddr 2001:db8::443 tcp dport { 443 } accept");
    expect(rendered.ruleset).toContain("ip saddr 10.20.0.0/24 tcp dport 22 accept");
    expect(rendered.ruleset).not.toMatch(/skuid|skgid/);
  });

  it("a broken ruleset fails nft -c -f (the check can fail)", () => {
    const [broken = "", userRule = ""] = writeFiles(tmp.dir, {
      "broken.nft": rendered.ruleset.replace("policy drop;", "policy dorp;"),
      // Why rules never name a user: a DynamicUser does not exist when the ruleset loads.
      "user.nft": rendered.ruleset.replace(
        'oifname "lo" accept',
        'oifname "lo" accept\n    meta skuid "compliance-agent-nonexistent" accept',
      ),
    });
    expect(nftCheck(broken).code).not.toBe(0);
    const user = nftCheck(userRule);
    expect(user.code).not.toBe(0);
    expect(user.stderr).toMatch(/User|not exist|Could not resolve/i);
  });

  it("an address that is not one stops evaluation", () => {
    expect(() =>
      renderAppliance(
        testSettings(tmp.dir, {
          egressAllowlist: [
            { address: "cp.example.net", protocol: "tcp", ports: [443], purpose: "control-plane" },
          ],
        }),
      ),
    ).toThrow(/egress address 'cp.example.net' is not an IPv4\/IPv6 address/);
  });
});

describe("the systemd units", () => {
  const names = Object.keys(rendered.units).sort();
  // systemd-analyze takes a template only as an instance: the test restore as 50-clinic-data.
  const asInstances = Object.fromEntries(
    Object.entries(rendered.units).map(([name, text]) => [
      name.replace("@.service", "@50-clinic-data.service"),
      text,
    ]),
  );
  const paths = writeFiles(tmp.dir, asInstances);
  const path = (name: string) => join(tmp.dir, name);

  it("are the agent, the helper's socket and service, and the test-restore template", () => {
    expect(names).toEqual([
      "compliance-agent-privileged.service",
      "compliance-agent-privileged.socket",
      "compliance-agent.service",
      "compliance-restore-test@.service",
    ]);
  });

  it("pass systemd-analyze verify with no warning", () => {
    const result = verifyUnits(paths);
    expect(result.stderr).toBe("");
    expect(result.ok).toBe(true);
  });

  it("a typo'd key, a bad value or a missing program fails verify (the check can fail)", () => {
    const agent = rendered.units["compliance-agent.service"] ?? "";
    const [typo = "", value = "", program = ""] = writeFiles(tmp.dir, {
      "typo.service": agent.replace("Type=notify", "Tpye=notify"),
      "value.service": agent.replace("Restart=always", "Restart=sometimes"),
      "program.service": agent.replace(settings.agentExecutable, join(tmp.dir, "missing")),
    });
    for (const unit of [typo, value, program]) expect(verifyUnits([unit]).ok).toBe(false);
  });

  it("the agent unit's exposure is 2.0 or better; the helper's is reported", () => {
    const agent = exposureScore(path("compliance-agent.service"));
    const helper = exposureScore(path("compliance-agent-privileged.service"));
    const restoreTest = exposureScore(path("compliance-restore-test@50-clinic-data.service"));
    console.info(JSON.stringify({ exposure: { agent, helper, restoreTest } }));
    expect(agent).toBeLessThanOrEqual(2.0);
    expect(helper).toBeLessThan(10);
    // Root with network for an off-site repository, but far tighter than the helper.
    expect(restoreTest).toBeLessThan(helper);
    // Without its sandbox the same unit scores far worse: the gate measures something.
    const bare = (rendered.units["compliance-agent.service"] ?? "")
      .split("\n")
      .filter((line) => !/^(Protect|Private|Restrict|SystemCall|Capability)/.test(line))
      .join("\n");
    const [unsandboxed = ""] = writeFiles(tmp.dir, { "bare.service": bare });
    expect(exposureScore(unsandboxed)).toBeGreaterThan(2.0);
  });

  it("run the agent unprivileged, with the contract's socket and the egress narrowed per unit", () => {
    const agent = rendered.units["compliance-agent.service"] ?? "";
    expect(agent).toMatch(/^User=compliance-agent$/m);
    expect(agent).toMatch(/^CapabilityBoundingSet=$/m);
    expect(agent).toMatch(/^IPAddressDeny=any$/m);
    expect(agent).toMatch(
      /^IPAddressAllow=localhost 192\.0\.2\.10 198\.51\.100\.7 198\.51\.100\.53$/m,
    );
    expect(agent).toMatch(/^LoadCredential=enrollment:\/run\/keys$/m);
    expect(agent).toContain(
      `ExecStart=${settings.agentExecutable} --config /etc/compliance-agent/config.json`,
    );
    const socket = rendered.units["compliance-agent-privileged.socket"] ?? "";
    for (const line of ["SocketMode=0660", "SocketUser=root", "SocketGroup=compliance-agent"]) {
      expect(socket).toContain(line);
    }
    expect(rendered.units["compliance-agent-privileged.service"]).toContain(
      `ExecStart=${settings.agentExecutable} privileged-helper --config /etc/compliance-agent/config.json`,
    );
  });
});

describe("the runtime flags", () => {
  it("the package's V8 flags are the agent bundle's AGENT_NODE_FLAGS", () => {
    expect(rendered.nodeFlags).toEqual([...AGENT_NODE_FLAGS]);
  });
});
