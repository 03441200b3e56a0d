import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A control-plane order key: 32 bytes in base64, as the module's option takes it. */
export const TEST_PUBLIC_KEY = Buffer.alloc(32, 7).toString("base64");

/** Test addresses (RFC 5737 documentation ranges): the control plane and one that is not allowed. */
export const CONTROL_PLANE_ADDRESS = "192.0.2.10";
export const OTHER_ADDRESS = "192.0.2.20";

/**
 * Settings named like services.compliance-agent's options, as a site would set them, plus the
 * paths the module resolves from its package (agentExecutable, catalogDir, agentPath, helperPath, restoreTestPath). The
 * executable is a real file in `dir`, so systemd-analyze verify can check ExecStart.
 */
export function testSettings(dir: string, overrides: Record<string, unknown> = {}) {
  const bin = join(dir, "pkg", "bin");
  mkdirSync(bin, { recursive: true });
  const agentExecutable = join(bin, "compliance-agent");
  writeFileSync(agentExecutable, "#!/bin/sh\nexit 0\n");
  chmodSync(agentExecutable, 0o755);
  return {
    siteId: "example-dental",
    controlPlaneUrl: "https://cp.example.net",
    controlPlanePublicKey: TEST_PUBLIC_KEY,
    caFile: "/etc/compliance-agent/ca.pem",
    agentExecutable,
    configFile: "/etc/compliance-agent/config.json",
    catalogDir: join(dir, "pkg", "share", "compliance-agent", "catalog"),
    agentPath: ["/usr/bin", "/usr/sbin"],
    helperPath: ["/usr/bin", "/usr/sbin"],
    restoreTestPath: ["/usr/bin", "/usr/sbin"],
    firewallRulesetPath: "/etc/compliance-agent/nftables.json",
    mode: "enforce",
    maintenanceWindow: {
      days: ["sat", "sun"],
      start: "02:00",
      durationMinutes: 120,
      timeZone: "America/Chicago",
    },
    backupJobs: ["clinic-data"],
    expectedLuksVolumes: ["cryptroot"],
    enrollmentTokenFile: "/run/keys/enrollment-token",
    firewall: { enable: true, managementNetworks: ["10.20.0.0/24", "fd00:20::/64"] },
    egressAllowlist: [
      { address: CONTROL_PLANE_ADDRESS, protocol: "tcp", ports: [443], purpose: "control-plane" },
      { address: "198.51.100.7", protocol: "tcp", ports: [443], purpose: "worm" },
      { address: "198.51.100.53", protocol: "udp", ports: [53], purpose: "dns" },
      { address: "203.0.113.123", protocol: "tcp", ports: [4460], purpose: "ntp" },
      { address: "203.0.113.123", protocol: "udp", ports: [123], purpose: "ntp" },
      { address: "2001:db8::443", protocol: "tcp", ports: [443], purpose: "backup" },
    ],
    ...overrides,
  };
}
