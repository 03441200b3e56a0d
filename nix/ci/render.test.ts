import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../agent/src/config.ts";
import { AGENT_BUN_ENV, AGENT_BUN_FLAGS, AGENT_NODE_FLAGS } from "../../scripts/build-agent.ts";
import { TEST_PUBLIC_KEY, testSettings } from "./test-settings.ts";
import { renderAppliance, tempDir } from "./tools.ts";

/**
 * What the module's pure functions (nix/lib through nix/ci/render.nix) render: the agent's config
 * (checked with the agent's own parser), the assertions, and the ruleset's content. The unit
 * files and the ruleset as NixOS writes them are checked with systemd-analyze and nft in
 * nixos-units.test.ts, from the NixOS evaluator.
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
});

describe("the nftables ruleset", () => {
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

describe("the runtime flags", () => {
  it("the package's V8 flags are the agent bundle's AGENT_NODE_FLAGS", () => {
    expect(rendered.nodeFlags).toEqual([...AGENT_NODE_FLAGS]);
  });

  it("the package's Bun flags and environment are the bundle's AGENT_BUN_FLAGS and AGENT_BUN_ENV", () => {
    expect(rendered.bunRuntime).toEqual({ flags: [...AGENT_BUN_FLAGS], env: { ...AGENT_BUN_ENV } });
  });
});
