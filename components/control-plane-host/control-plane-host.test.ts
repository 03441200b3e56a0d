import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runProgram } from "../program.ts";
import { CENTRAL_CONFIG } from "../testing/configs.ts";
import {
  isWireSecret,
  one,
  type Recorded,
  recordResources,
  resolvedValue,
  settled,
  unwrap,
} from "../testing/mocks.ts";
import { TEST_RELEASE_VERSION } from "../testing/release.ts";
import { CONTROL_PLANE_CONFIG, INSTALL_DIR, SYSTEMD_UNIT } from "./cloud-init.ts";
import { rawEd25519PublicKeyBase64 } from "./index.ts";

/** The central stack under Pulumi's mocks, and its cloud-init checked against the real tools. */
const config = CENTRAL_CONFIG;
const root = resolve(import.meta.dirname, "..", "..");

let recorded: Recorded[];
let outputs: Record<string, pulumi.Output<unknown>>;
let cloudInit: {
  write_files: {
    path: string;
    content: string;
    permissions: string;
    owner: string;
    defer: boolean;
  }[];
  runcmd: string[][];
  users: unknown[];
};
const fileIn = (path: string) => {
  const f = cloudInit.write_files.find((w) => w.path === path);
  if (!f) throw new Error(`cloud-init writes no ${path}`);
  return f;
};

beforeAll(async () => {
  recorded = await recordResources("central");
  outputs = await runProgram(config, "central");
  await settled(outputs);
  const server = one(recorded, "hcloud:index/server:Server");
  const text = String(unwrap(server.inputs.userData));
  expect(text.startsWith("#cloud-config\n")).toBe(true);
  cloudInit = parse(text);
});

describe("ControlPlaneHost resources", () => {
  it("parents everything under the component, named after it", () => {
    const host = one(recorded, "msp:central:ControlPlaneHost", "control-plane");
    for (const r of recorded.filter((r) => r !== host)) {
      expect(r.parentUrn, r.name).toBe(host.urn);
      expect(r.name.startsWith("control-plane-"), r.name).toBe(true);
    }
  });

  it("opens 443 to the world and SSH only to the admin CIDRs", () => {
    expect(one(recorded, "hcloud:index/firewall:Firewall").inputs.rules).toEqual([
      expect.objectContaining({
        direction: "in",
        protocol: "tcp",
        port: "443",
        sourceIps: ["0.0.0.0/0", "::/0"],
      }),
      expect.objectContaining({
        direction: "in",
        protocol: "tcp",
        port: "22",
        sourceIps: ["203.0.113.7/32"],
      }),
    ]);
  });

  it("attaches the primary IP and the firewall by numeric id, with secret user data", () => {
    const ip = one(recorded, "hcloud:index/primaryIp:PrimaryIp");
    expect(ip.inputs).toMatchObject({
      type: "ipv4",
      assigneeType: "server",
      autoDelete: false,
      location: "fsn1",
    });
    const server = one(recorded, "hcloud:index/server:Server");
    expect(server.inputs).toMatchObject({
      serverType: "cx23",
      image: "debian-12",
      location: "fsn1",
    });
    // hcloud: ids are strings on resources but numbers in arguments.
    expect(server.inputs.publicNets).toEqual([
      { ipv4Enabled: true, ipv4: Number(ip.id), ipv6Enabled: true },
    ]);
    expect(server.inputs.firewallIds).toEqual([
      Number(one(recorded, "hcloud:index/firewall:Firewall").id),
    ]);
    expect(isWireSecret(server.wireInputs.userData)).toBe(true);
    expect(server.inputs.sshKeys).toEqual([one(recorded, "hcloud:index/sshKey:SshKey").id]);
  });

  it("never lets a key or image change replace the server, and Hetzner refuses its deletion", () => {
    const server = one(recorded, "hcloud:index/server:Server");
    expect(server.inputs).toMatchObject({ deleteProtection: true, rebuildProtection: true });
    expect([...server.options.ignoreChanges].sort()).toEqual(["image", "sshKeys", "userData"]);
  });

  it("keeps the data on a protected, retained volume attached to the server and mounted by cloud-init", () => {
    const volume = one(recorded, "hcloud:index/volume:Volume");
    expect(volume.inputs).toMatchObject({
      size: 20,
      location: "fsn1",
      format: "ext4",
      deleteProtection: true,
    });
    expect(volume.options).toMatchObject({ protect: true, retainOnDelete: true });
    expect(one(recorded, "hcloud:index/volumeAttachment:VolumeAttachment").inputs).toEqual({
      serverId: Number(one(recorded, "hcloud:index/server:Server").id),
      volumeId: Number(volume.id),
      automount: false,
    });
    expect(fileIn("/etc/msp-control-plane/release.env").content).toContain(
      `VOLUME_DEVICE='/dev/disk/by-id/scsi-0HC_Volume_${volume.id}'`,
    );
    const script = fileIn("/usr/local/sbin/msp-control-plane-install").content;
    expect(script.indexOf("mount /var/lib/msp-control-plane")).toBeLessThan(
      script.indexOf("control-plane/src/main.ts init"),
    );
  });

  it("waits for the control plane of the signed release after the server, volume and DNS", () => {
    const ready = one(recorded, "pulumi-nodejs:dynamic/msp:ControlPlaneReadiness");
    expect(ready.inputs).toMatchObject({
      address: "203.0.113.10",
      port: 443,
      hostname: "cp.example.net",
      expectedVersion: TEST_RELEASE_VERSION,
      timeoutSeconds: 900,
    });
    // The stack's own server CA (the mock's certificate of control-plane-ca), nothing else.
    expect(ready.inputs.caPem).toBe(
      "-----BEGIN CERTIFICATE-----\nmock control-plane-ca\n-----END CERTIFICATE-----\n",
    );
    const byUrn = new Map(recorded.map((r) => [r.urn, r.type]));
    expect(ready.dependencies.map((u) => byUrn.get(u)).sort()).toEqual(
      expect.arrayContaining([
        "cloudflare:index/dnsRecord:DnsRecord",
        "hcloud:index/server:Server",
        "hcloud:index/volumeAttachment:VolumeAttachment",
      ]),
    );
    expect(ready.inputs.logCommand).toEqual(
      expect.arrayContaining(["root@203.0.113.10", "/var/log/cloud-init-output.log"]),
    );
  });

  it("points the A record at the primary IP, unproxied", () => {
    expect(one(recorded, "cloudflare:index/dnsRecord:DnsRecord").inputs).toMatchObject({
      name: "cp.example.net",
      type: "A",
      content: "203.0.113.10",
      proxied: false,
      zoneId: "fedcba9876543210fedcba9876543210",
    });
  });

  it("makes P-256 TLS keys, an Ed25519 order key, and a certificate for the host and every tenant name", () => {
    const keys = recorded.filter((r) => r.type === "tls:index/privateKey:PrivateKey");
    expect(Object.fromEntries(keys.map((k) => [k.name, k.inputs]))).toEqual({
      "control-plane-ca-key": { algorithm: "ECDSA", ecdsaCurve: "P256" },
      "control-plane-server-key": { algorithm: "ECDSA", ecdsaCurve: "P256" },
      "control-plane-order-signing-key": { algorithm: "ED25519" },
    });
    expect(one(recorded, "tls:index/certRequest:CertRequest").inputs.dnsNames).toEqual([
      "cp.example.net",
      "*.clinics.example.net",
    ]);
    expect(
      one(recorded, "tls:index/locallySignedCert:LocallySignedCert").inputs.allowedUses,
    ).toContain("server_auth");
  });
});

describe("central stack outputs", () => {
  it("publishes the URL, CA and the raw order-signing public key appliances pin", async () => {
    expect(await resolvedValue(outputs.controlPlaneUrl as pulumi.Output<string>)).toBe(
      "https://cp.example.net",
    );
    expect(await resolvedValue(outputs.orderSigningPublicKey as pulumi.Output<string>)).toMatch(
      /^[A-Za-z0-9+/]{43}=$/,
    );
    expect(await resolvedValue(outputs.controlPlaneIpv4 as pulumi.Output<string>)).toBe(
      "203.0.113.10",
    );
    expect(await pulumi.isSecret(outputs.controlPlaneCaCertificate as pulumi.Output<unknown>)).toBe(
      false,
    );
  });

  it("derives the raw key exactly as the control plane publishes it", () => {
    const dir = mkdtempSync(join(tmpdir(), "msp-raw-key-"));
    try {
      const key = join(dir, "k.pem");
      execFileSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", key]);
      const spki = execFileSync("openssl", ["pkey", "-in", key, "-pubout"], { encoding: "utf8" });
      const der = execFileSync("openssl", ["pkey", "-in", key, "-pubout", "-outform", "DER"]);
      expect(rawEd25519PublicKeyBase64(spki)).toBe(der.subarray(12).toString("base64"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("cloud-init", () => {
  it("writes keys owner-only, deferred until the service user exists, and runs one argv", () => {
    expect(fileIn("/etc/msp-control-plane/order-signing.key")).toMatchObject({
      permissions: "0400",
      owner: "msp-cp:msp-cp",
      defer: true,
    });
    expect(fileIn("/etc/msp-control-plane/order-signing.key").content).toMatch(
      /^-----BEGIN PRIVATE KEY-----/,
    );
    expect(fileIn("/etc/msp-control-plane/tls/server.key").permissions).toBe("0400");
    expect(fileIn("/etc/msp-control-plane/release.env")).toMatchObject({
      permissions: "0600",
      owner: "root:root",
    });
    expect(cloudInit.runcmd).toEqual([["/usr/local/sbin/msp-control-plane-install"]]);
  });

  it("has an install script that sh parses and that checks the release's SHA-256 before unpacking", () => {
    const script = fileIn("/usr/local/sbin/msp-control-plane-install").content;
    const dir = mkdtempSync(join(tmpdir(), "msp-cloud-init-"));
    try {
      writeFileSync(join(dir, "install.sh"), script);
      const parsed = spawnSync("sh", ["-n", join(dir, "install.sh")], { encoding: "utf8" });
      expect(parsed.status, parsed.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const verify = '/usr/local/sbin/msp-release-verify /etc/msp-control-plane/release "$tarball"';
    expect(script).toContain(verify);
    expect(script.indexOf(verify)).toBeLessThan(script.indexOf("tar -xzf"));
    expect(script).toMatch(/^set -eu$/m);
    expect(script).toContain("--order-signing-key-file");
  });

  it("starts what this repository ships: the unit's paths exist in a checkout", () => {
    const exec = /^ExecStart=(\S+) (\S+) serve --config (\S+)$/m.exec(SYSTEMD_UNIT);
    expect(exec).not.toBeNull();
    const local = (p: string) => join(root, p.slice(INSTALL_DIR.length + 1));
    expect(existsSync(local(exec?.[1] ?? ""))).toBe(true); // node_modules/node/bin/node
    expect(existsSync(local(exec?.[2] ?? ""))).toBe(true); // control-plane/src/main.ts
    expect(JSON.parse(fileIn("/etc/msp-control-plane/config.json").content)).toEqual(
      CONTROL_PLANE_CONFIG,
    );
  });

  it("writes a config.json the real control plane accepts (served here with local paths)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "msp-cp-config-"));
    const main = join(root, "control-plane", "src", "main.ts");
    try {
      const data = join(dir, "data");
      const init = spawnSync(
        process.execPath,
        [main, "init", "--data-dir", data, "--admin-token-file", join(dir, "t")],
        { encoding: "utf8", timeout: 60_000 },
      );
      expect(init.status, init.stderr).toBe(0);
      const local = {
        ...CONTROL_PLANE_CONFIG,
        data_dir: data,
        tls: { cert: join(data, "tls", "server.pem"), key: join(data, "tls", "server.key") },
      };
      writeFileSync(join(dir, "config.json"), JSON.stringify(local));
      const child = spawn(
        process.execPath,
        [main, "serve", "--config", join(dir, "config.json"), "--port", "0", "--host", "127.0.0.1"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const line = await new Promise<string>((done, fail) => {
        createInterface({ input: child.stdout }).on(
          "line",
          (l) => l.startsWith("listening on") && done(l),
        );
        child.once("exit", (code) => fail(new Error(`serve exited ${code}`)));
      });
      expect(line).toMatch(/^listening on https:\/\/127\.0\.0\.1:\d+$/);
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000); // init + serve as child processes: slow on a loaded machine
});
