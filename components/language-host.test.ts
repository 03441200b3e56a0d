import { describe, expect, it } from "vitest";
import { CENTRAL_CONFIG, TENANT_CONFIG } from "./testing/configs.ts";
import { runProgramUnderHost } from "./testing/fake-engine/language-host.ts";
import type { Registration } from "./testing/fake-engine/monitor.ts";
import { TEST_RELEASE_VERSION } from "./testing/release.ts";

/**
 * Both stacks under Pulumi's own Node.js host (`@pulumi/pulumi/cmd/run`, started as the
 * language host starts it), preview and update, against the fake resource monitor: what the
 * engine would receive, resource options included.
 */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function only(registrations: readonly Registration[], type: string, name?: string): Registration {
  const found = registrations.filter(
    (r) => r.type === type && (name === undefined || r.name === name),
  );
  if (found.length !== 1) throw new Error(`${found.length} registrations of ${type} ${name ?? ""}`);
  return found[0] as Registration;
}

const explain = (run: { out: string; logs: { message: string }[] }) =>
  `${run.out}\n${run.logs.map((l) => l.message).join("\n")}`;

describe("the tenant program under Pulumi's language host", () => {
  it.each([
    ["preview", true],
    ["update", false],
  ])(
    "runs a %s and registers the tenant tree",
    async (_what, dryRun) => {
      const run = await runProgramUnderHost({ stack: "riverside", config: TENANT_CONFIG, dryRun });
      expect(run.code, explain(run)).toBe(0);
      const types = run.registrations.map((r) => r.type);
      expect(types).toEqual(
        expect.arrayContaining([
          "pulumi:pulumi:Stack",
          "msp:tenant:ClientTenant",
          "msp:tenant:EvidenceVault",
          "aws:s3/bucket:Bucket",
          "pulumi-nodejs:dynamic/msp:ApplianceEnrollment",
        ]),
      );
      const bucket = run.registrations.find((r) => r.name === "riverside-vault-bucket");
      expect(bucket?.protect).toBe(true);
      const enrollment = run.registrations.find((r) => r.name === "riverside-enrollment");
      expect(String(enrollment?.inputs.__provider)).toContain("exports.handler");
    },
    // Each run is a fresh Node process loading the Pulumi SDKs: slow on a loaded machine.
    240_000,
  );
});

// An SSH key already in the Hetzner project is named, not created again (uniqueness_error).
const CENTRAL: Readonly<Record<string, string>> = {
  ...CENTRAL_CONFIG,
  "msp:sshKeyNames": '["ops-laptop"]',
};

describe("the central program under Pulumi's language host", () => {
  it.each([
    ["preview", true],
    ["update", false],
  ])(
    "runs a %s and registers the control plane host with its protections",
    async (_what, dryRun) => {
      const run = await runProgramUnderHost({ stack: "central", config: CENTRAL, dryRun });
      expect(run.code, explain(run)).toBe(0);
      const r = run.registrations;
      const host = only(r, "msp:central:ControlPlaneHost", "control-plane");
      const stack = only(r, "pulumi:pulumi:Stack");
      expect(host.parent).toBe(stack.urn);
      for (const child of r.filter((x) => x !== host && x !== stack)) {
        expect(child.parent, child.name).toBe(host.urn);
      }

      // The server: Hetzner refuses delete and rebuild; keys, image and user data never replace it.
      const server = only(r, "hcloud:index/server:Server");
      expect(server.inputs).toMatchObject({ deleteProtection: true, rebuildProtection: true });
      expect(server.inputs.serverType).not.toBe("cx22");
      expect([...server.ignoreChanges].sort()).toEqual(["image", "sshKeys", "userData"]);
      const sshKey = only(r, "hcloud:index/sshKey:SshKey");
      expect(sshKey.inputs.publicKey).toBe(JSON.parse(CENTRAL["msp:sshPublicKeys"] ?? "")[0]);
      if (!dryRun) expect(server.inputs.sshKeys).toEqual([expect.any(String), "ops-laptop"]);
      // The user data holds keys: a secret on the wire.
      expect(JSON.stringify(server.inputs.userData)).toContain("4dabf18193072939515e22adb298388d");

      // The data volume: protected in the state, retained on delete, protected at Hetzner.
      const volume = only(r, "hcloud:index/volume:Volume");
      expect(volume).toMatchObject({ protect: true, retainOnDelete: true });
      expect(volume.inputs).toMatchObject({ deleteProtection: true, format: "ext4" });
      const attachment = only(r, "hcloud:index/volumeAttachment:VolumeAttachment");
      expect(attachment.dependencies).toEqual(expect.arrayContaining([server.urn, volume.urn]));
      expect(only(r, "hcloud:index/primaryIp:PrimaryIp").inputs.autoDelete).toBe(false);

      // Cloud-init gets the signed release manifest, not a bare hash.
      if (!dryRun) {
        const userData = String(
          (server.inputs.userData as { value?: unknown }).value ?? server.inputs.userData,
        );
        expect(userData).toContain(String(CENTRAL_CONFIG["msp:releaseManifest"]));
        expect(userData).toContain(String(CENTRAL_CONFIG["msp:releaseSignature"]));
      }

      // The readiness check waits for server, volume attachment and DNS, for the release's version.
      const readiness = only(r, "pulumi-nodejs:dynamic/msp:ControlPlaneReadiness");
      expect(readiness.inputs).toMatchObject({
        hostname: "cp.example.net",
        expectedVersion: TEST_RELEASE_VERSION,
        port: 443,
      });
      expect(String(readiness.inputs.__provider)).toContain("exports.handler");
      const record = only(r, "cloudflare:index/dnsRecord:DnsRecord");
      expect(readiness.dependencies).toEqual(
        expect.arrayContaining([server.urn, attachment.urn, record.urn]),
      );

      // The stack's outputs: the version comes from the readiness check (unknown in a preview).
      const outputs = run.outputs.get(stack.urn) ?? {};
      expect(outputs).toMatchObject({
        controlPlaneUrl: "https://cp.example.net",
        controlPlaneHostname: "cp.example.net",
      });
      expect(outputs.controlPlaneVersion).toBe(dryRun ? UNKNOWN : TEST_RELEASE_VERSION);
    },
    // Each run is a fresh Node process loading the Pulumi SDKs: slow on a loaded machine.
    240_000,
  );
});

describe("the release key under Pulumi's language host", () => {
  it("fails the update when the release key is the stack's own order-signing key", async () => {
    const release = CENTRAL_CONFIG["msp:releasePublicKey"] as string;
    const run = await runProgramUnderHost({
      stack: "central",
      config: CENTRAL_CONFIG,
      dryRun: false,
      // The tls provider hands back the release key as the order-signing key.
      override: (type, name) =>
        type === "tls:index/privateKey:PrivateKey" && name === "control-plane-order-signing-key"
          ? {
              publicKeyPem: release,
              privateKeyPem: "order key",
              privateKeyPemPkcs8: "order key",
            }
          : undefined,
    });
    expect(run.code).not.toBe(0);
    expect(explain(run)).toContain(
      "releasePublicKey is the order-signing key; the release key must be a key of its own",
    );
    expect(run.registrations.map((r) => r.type)).not.toContain("hcloud:index/server:Server");
  }, 240_000);
});
