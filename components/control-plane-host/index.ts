import { createPublicKey } from "node:crypto";
import * as cloudflare from "@pulumi/cloudflare";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { isCodedError } from "#protocol";
import { ComponentArgsError } from "../errors.ts";
import type { CentralStackConfig } from "../stack-config.ts";
import { renderCloudInit, SAFE_URL } from "./cloud-init.ts";
import { ControlPlaneReadiness } from "./readiness.ts";
import { verifyReleaseManifest } from "./release-manifest.ts";

export type ControlPlaneHostArgs = Omit<CentralStackConfig, "kind">;

/** Pure checks beyond the stack schema (which already parsed every field). */
export function validateControlPlaneHostArgs(args: ControlPlaneHostArgs): ControlPlaneHostArgs {
  const labels = args.hostname.split(".");
  if (labels.slice(1).join(".") === args.tenantDnsZone) {
    // <slug>.<tenantDnsZone> is a client's name: a client could take the control plane's.
    throw new ComponentArgsError(
      "invalid_args",
      `ControlPlaneHost: hostname: ${args.hostname} is a name in tenantDnsZone ${args.tenantDnsZone}; use a name outside it`,
    );
  }
  if (!SAFE_URL.test(args.releaseBaseUrl)) {
    throw new ComponentArgsError(
      "invalid_args",
      "ControlPlaneHost: releaseBaseUrl: use only letters, digits and . - _ ~ / : % + @ = (it is written into a shell-sourced file)",
    );
  }
  try {
    verifyReleaseManifest(args.releaseManifest, args.releaseSignature, args.releasePublicKey);
  } catch (e) {
    if (!isCodedError(e, "invalid_release")) throw e;
    throw new ComponentArgsError(
      "invalid_args",
      `ControlPlaneHost: releaseManifest/releaseSignature/releasePublicKey: ${e.message}; set them from the release folder (docs/operators.md, "Releases")`,
      { cause: e },
    );
  }
  return args;
}

function samePublicKey(a: string, b: string): boolean {
  try {
    return createPublicKey(a).equals(createPublicKey(b));
  } catch {
    return false;
  }
}

/** The raw 32-byte Ed25519 public key in base64, what an agent config pins. */
export function rawEd25519PublicKeyBase64(spkiPem: string): string {
  const der = createPublicKey(spkiPem).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - 32)).toString("base64");
}

/**
 * The central control plane on Hetzner Cloud: a server whose cloud-init installs and starts
 * the control plane as a systemd service, a firewall (443 from anywhere, SSH only from the
 * admin CIDRs), a primary IPv4 that survives the server, the Cloudflare A record, the server
 * CA and certificate (covering the hostname and every `<tenant>.<tenantDnsZone>`), and the
 * Ed25519 order-signing key, kept as a secret in the state.
 */
export class ControlPlaneHost extends pulumi.ComponentResource {
  public readonly hostname: pulumi.Output<string>;
  public readonly url: pulumi.Output<string>;
  public readonly caCertificatePem: pulumi.Output<string>;
  public readonly orderSigningPublicKey: pulumi.Output<string>;
  public readonly ipv4: pulumi.Output<string>;
  public readonly serverId: pulumi.Output<string>;
  public readonly version: pulumi.Output<string>;

  constructor(name: string, args: ControlPlaneHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("msp:central:ControlPlaneHost", name, {}, opts);
    const a = validateControlPlaneHostArgs(args);
    const parent = { parent: this };

    const caKey = new tls.PrivateKey(
      `${name}-ca-key`,
      { algorithm: "ECDSA", ecdsaCurve: "P256" },
      parent,
    );
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        validityPeriodHours: 10 * 365 * 24,
        earlyRenewalHours: 180 * 24,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        subject: { commonName: "MSP control plane server CA" },
      },
      parent,
    );
    const serverKey = new tls.PrivateKey(
      `${name}-server-key`,
      { algorithm: "ECDSA", ecdsaCurve: "P256" },
      parent,
    );
    const csr = new tls.CertRequest(
      `${name}-server`,
      {
        privateKeyPem: serverKey.privateKeyPem,
        subject: { commonName: a.hostname },
        dnsNames: [a.hostname, `*.${a.tenantDnsZone}`],
      },
      parent,
    );
    const serverCert = new tls.LocallySignedCert(
      `${name}-server`,
      {
        certRequestPem: csr.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 397 * 24,
        earlyRenewalHours: 30 * 24,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
      },
      parent,
    );
    const orderKey = new tls.PrivateKey(
      `${name}-order-signing-key`,
      { algorithm: "ED25519" },
      parent,
    );

    const release = verifyReleaseManifest(
      a.releaseManifest,
      a.releaseSignature,
      a.releasePublicKey,
    ).manifest;
    const sshKeys = a.sshPublicKeys.map(
      (publicKey, i) => new hcloud.SshKey(`${name}-ssh-${i}`, { publicKey }, parent),
    );
    // The database and the evidence archive live here, not on the server's disk: a replaced
    // server re-attaches it and finds its data (cloud-init then skips init).
    const volume = new hcloud.Volume(
      `${name}-data`,
      {
        size: a.dataVolumeGb,
        location: a.location,
        format: "ext4",
        deleteProtection: true,
        labels: { "msp-role": "control-plane-data" },
      },
      { parent: this, protect: true, retainOnDelete: true },
    );
    const firewall = new hcloud.Firewall(
      `${name}-firewall`,
      {
        rules: [
          {
            direction: "in",
            protocol: "tcp",
            port: "443",
            sourceIps: ["0.0.0.0/0", "::/0"],
            description: "HTTPS: appliances, admin API, operators",
          },
          {
            direction: "in",
            protocol: "tcp",
            port: "22",
            sourceIps: [...a.adminCidrs],
            description: "SSH from the admin networks only",
          },
        ],
      },
      parent,
    );
    const ip = new hcloud.PrimaryIp(
      `${name}-ipv4`,
      { type: "ipv4", assigneeType: "server", location: a.location, autoDelete: false },
      parent,
    );
    const userData = pulumi
      .all([
        serverCert.certPem,
        ca.certPem,
        serverKey.privateKeyPemPkcs8,
        orderKey.privateKeyPemPkcs8,
        orderKey.publicKeyPem,
        volume.id,
      ])
      .apply(([cert, caPem, key, order, orderPublic, volumeId]) => {
        if (samePublicKey(orderPublic, a.releasePublicKey)) {
          throw new ComponentArgsError(
            "invalid_args",
            "ControlPlaneHost: releasePublicKey is the order-signing key; the release key must be a key of its own",
          );
        }
        return renderCloudInit({
          hostname: a.hostname,
          releaseBaseUrl: a.releaseBaseUrl,
          releaseManifest: a.releaseManifest,
          releaseSignature: a.releaseSignature,
          releasePublicKeyPem: a.releasePublicKey,
          volumeDevice: `/dev/disk/by-id/scsi-0HC_Volume_${volumeId}`,
          serverCertPem: `${cert.trim()}\n${caPem.trim()}\n`,
          serverKeyPem: key,
          orderSigningKeyPem: order,
        });
      });
    const server = new hcloud.Server(
      `${name}-server`,
      {
        serverType: a.serverType,
        image: a.image,
        location: a.location,
        sshKeys: [...sshKeys.map((k) => k.id), ...a.sshKeyNames],
        firewallIds: [firewall.id.apply(Number)],
        publicNets: [{ ipv4Enabled: true, ipv4: ip.id.apply(Number), ipv6Enabled: true }],
        userData: pulumi.secret(userData),
        labels: { "msp-role": "control-plane" },
        // Hetzner refuses to delete or rebuild the server until these are lifted on purpose.
        deleteProtection: true,
        rebuildProtection: true,
      },
      // New keys or a newer image must not replace the server that holds the service: keys
      // are managed on the host, the OS is upgraded in place.
      { parent: this, ignoreChanges: ["userData", "sshKeys", "image"] },
    );
    const attachment = new hcloud.VolumeAttachment(
      `${name}-data`,
      { serverId: server.id.apply(Number), volumeId: volume.id.apply(Number), automount: false },
      parent,
    );
    const record = new cloudflare.DnsRecord(
      `${name}-a`,
      {
        zoneId: a.cloudflareZoneId,
        name: a.hostname,
        type: "A",
        content: ip.ipAddress,
        ttl: 1,
        proxied: false,
        comment: "MSP compliance control plane (mTLS, not proxied)",
      },
      parent,
    );

    const readiness = new ControlPlaneReadiness(
      `${name}-ready`,
      {
        address: ip.ipAddress,
        hostname: a.hostname,
        caPem: ca.certPem,
        expectedVersion: release.version,
        timeoutSeconds: a.readinessTimeoutSeconds,
      },
      { parent: this, dependsOn: [server, attachment, record] },
    );

    this.hostname = pulumi.output(a.hostname);
    this.url = pulumi.output(`https://${a.hostname}`);
    this.caCertificatePem = ca.certPem;
    this.orderSigningPublicKey = orderKey.publicKeyPem.apply(rawEd25519PublicKeyBase64);
    this.ipv4 = ip.ipAddress;
    this.serverId = server.id;
    this.version = readiness.version;
    this.registerOutputs({
      version: this.version,
      hostname: this.hostname,
      url: this.url,
      caCertificatePem: this.caCertificatePem,
      orderSigningPublicKey: this.orderSigningPublicKey,
      ipv4: this.ipv4,
      serverId: this.serverId,
    });
  }
}
