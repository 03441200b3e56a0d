import { describe, expect, it } from "vitest";
import { build, runPack } from "./testing.ts";

/** The central stack passes the platform's own policy pack. */
describe("the policy pack on the central stack", () => {
  it("passes the central stack (its three TLS keys)", async () => {
    const resources = await build("central", {
      "msp:kind": "central",
      "msp:hostname": "cp.example.net",
      "msp:cloudflareZoneId": "fedcba9876543210fedcba9876543210",
      "msp:tenantDnsZone": "clinics.example.net",
      "msp:adminCidrs": '["203.0.113.7/32"]',
      "msp:sshPublicKeys": '["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@msp"]',
      "msp:releaseUrl": "https://downloads.example.net/msp-control-plane-0.1.0.tar.gz",
      "msp:releaseSha256": "ab".repeat(32),
    });
    expect(resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey")).toHaveLength(3);
    expect(runPack(resources)).toEqual([]);
  });
});
