import { describe, expect, it } from "vitest";
import { ComponentArgsError } from "./errors.ts";
import { parseStackConfig } from "./stack-config.ts";
import { CENTRAL_CONFIG, TENANT_CONFIG } from "./testing/configs.ts";

const tenant = {
  ...TENANT_CONFIG,
  "aws:region": "us-east-2", // a provider's key: not ours to judge
};
const central = {
  ...CENTRAL_CONFIG,
  "msp:adminCidrs": '["203.0.113.7/32","2001:db8::/48"]',
  "hcloud:token": "secret",
};

function failure(config: Record<string, string>, stack = "riverside"): string {
  try {
    parseStackConfig(config, stack);
  } catch (error) {
    expect(error).toBeInstanceOf(ComponentArgsError);
    expect((error as ComponentArgsError).code).toBe("invalid_config");
    return (error as Error).message;
  }
  throw new Error("expected the configuration to be refused");
}

describe("parseStackConfig", () => {
  it("parses a tenant stack and fills the defaults", () => {
    expect(parseStackConfig(tenant, "riverside")).toEqual({
      kind: "tenant",
      clientName: "Riverside Family Clinic",
      clientSlug: "riverside",
      applianceId: "appliance-1",
      applianceMacs: ["52:54:00:12:34:56"],
      dnsZone: "clinics.example.net",
      cloudflareZoneId: "0123456789abcdef0123456789abcdef",
      centralStack: "organization/msp-compliance/central",
      retentionDays: 2192,
      coldStorageAfterDays: 90,
      enrollmentTokenTtlHours: 168,
      enrollmentTokenGeneration: 1,
    });
  });

  it("parses a central stack with numbers and lists given as text", () => {
    const parsed = parseStackConfig(central, "central");
    expect(parsed).toMatchObject({
      kind: "central",
      adminCidrs: ["203.0.113.7/32", "2001:db8::/48"],
      location: "fsn1",
      serverType: "cx23",
    });
    expect(parseStackConfig({ ...tenant, "msp:retentionDays": "3650" }, "riverside")).toMatchObject(
      { retentionDays: 3650 },
    );
  });

  it.each([
    [
      "a missing kind",
      { ...tenant, "msp:kind": undefined },
      "stack riverside: msp:kind is missing; set it with: pulumi config set --stack riverside msp:kind tenant (or central)",
    ],
    [
      "an unknown kind",
      { ...tenant, "msp:kind": "clinic" },
      'msp:kind is "clinic", expected tenant or central',
    ],
    [
      "a missing key",
      { ...tenant, "msp:clientSlug": undefined },
      "msp:clientSlug: is missing; set it with: pulumi config set --stack riverside msp:clientSlug riverside",
    ],
    [
      "a retention under six years",
      { ...tenant, "msp:retentionDays": "365" },
      "msp:retentionDays: at least 2192 days (six years); set it with: pulumi config set --stack riverside msp:retentionDays 2192",
    ],
    [
      "a MAC list given as one string",
      { ...tenant, "msp:applianceMacs": "52:54:00:12:34:56" },
      "msp:applianceMacs: Invalid input: expected array, received string; set it with: pulumi config set --stack riverside --path 'msp:applianceMacs[0]' 52:54:00:12:34:56",
    ],
    [
      "an upper-case MAC",
      { ...tenant, "msp:applianceMacs": '["52:54:00:AB:34:56"]' },
      "msp:applianceMacs[0]: use lower-case aa:bb:cc:dd:ee:ff",
    ],
    [
      "a slug that is not a DNS label",
      { ...tenant, "msp:clientSlug": "River Side" },
      "msp:clientSlug: use 1-63 lower-case letters, digits and inner hyphens",
    ],
    [
      "an unknown key",
      { ...tenant, "msp:bucketName": "x" },
      "msp:bucketName is not a setting of a tenant stack; remove it with: pulumi config rm --stack riverside msp:bucketName",
    ],
    [
      "a bad zone id",
      { ...tenant, "msp:cloudflareZoneId": "zone" },
      "msp:cloudflareZoneId: expected the 32-hex-digit zone id",
    ],
    [
      "a stack reference without org",
      { ...tenant, "msp:centralStack": "central" },
      "msp:centralStack: expected <organization>/<project>/<stack>",
    ],
  ])("refuses %s, naming the key and the command that fixes it", (_what, config, message) => {
    const defined = Object.fromEntries(
      Object.entries(config).filter((e): e is [string, string] => e[1] !== undefined),
    );
    expect(failure(defined)).toContain(message);
  });

  it.each([
    [
      "an SSH CIDR that is not one",
      { "msp:adminCidrs": '["0.0.0.0"]' },
      "msp:adminCidrs[0]: expected a CIDR",
    ],
    [
      "an IPv4 prefix over 32",
      { "msp:adminCidrs": '["10.0.0.0/33"]' },
      "msp:adminCidrs[0]: expected a CIDR",
    ],
    [
      "an http release",
      { "msp:releaseBaseUrl": "http://x.example.net/rel" },
      "msp:releaseBaseUrl: expected an https:// URL",
    ],
    [
      "an RSA key",
      { "msp:sshPublicKeys": '["ssh-rsa AAAAB3 x"]' },
      "msp:sshPublicKeys[0]: expected an ssh-ed25519",
    ],
    [
      "a tenant key in the central stack",
      { "msp:clientSlug": "x" },
      "msp:clientSlug is not a setting of a central stack",
    ],
  ])("central: refuses %s", (_what, change, message) => {
    expect(failure({ ...central, ...change }, "central")).toContain(message);
  });

  it("lists every problem at once", () => {
    const message = failure({ "msp:kind": "tenant" });
    for (const key of [
      "clientName",
      "clientSlug",
      "applianceMacs",
      "dnsZone",
      "cloudflareZoneId",
      "centralStack",
    ]) {
      expect(message).toContain(`msp:${key}: is missing`);
    }
  });
});
