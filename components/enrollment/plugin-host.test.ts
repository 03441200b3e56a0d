import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineService, startEngineService } from "../testing/fake-engine/engine.ts";
import {
  type Props,
  type ProviderPlugin,
  startDynamicProvider,
} from "../testing/fake-engine/provider.ts";
import {
  enrollAs,
  type LiveControlPlane,
  opensslTenantCa,
  startControlPlane,
} from "../testing/live-control-plane.ts";

/**
 * The enrollment provider as `pulumi up` runs it: its closure serialized as
 * `pulumi.dynamic.Resource` serializes it, handed in `__provider` to the real
 * `pulumi-resource-pulumi-nodejs` plugin that `@pulumi/pulumi` ships (started as the engine
 * starts a plugin: in the program's directory, the engine's address as argument, the port
 * read from stdout), and driven over gRPC through GetPluginInfo, Configure, Check, Create,
 * Diff, Update, Read and Delete against a real control plane over TLS.
 */
const root = resolve(import.meta.dirname, "..", "..");
const URN =
  "urn:pulumi:riverside::msp-compliance::msp:tenant:ClientTenant$pulumi-nodejs:dynamic/msp:ApplianceEnrollment::riverside-enrollment";
const DIFF_SOME = 2;

let cp: LiveControlPlane;
let engine: EngineService;
let provider: ProviderPlugin;
let serialized: string;

beforeAll(async () => {
  cp = await startControlPlane();
  const file = join(cp.dir, "provider.js");
  const child = spawnSync(
    process.execPath,
    [join(root, "components", "testing", "serialized-provider-child.ts"), "serialize", file],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (child.status !== 0) throw new Error(`serializing the provider failed: ${child.stderr}`);
  serialized = readFileSync(file, "utf8");
  engine = await startEngineService();
  // The admin token reaches the provider only through the environment of `pulumi up`.
  provider = await startDynamicProvider({
    cwd: root,
    engineAddress: engine.address,
    env: { ...process.env, MSP_ADMIN_TOKEN: cp.adminToken, MSP_ADMIN_TOKEN_FILE: "" },
  });
}, 120_000);

afterAll(async () => {
  await provider?.stop();
  await engine?.close();
  await cp?.stop();
});

describe("the enrollment provider in Pulumi's dynamic provider plugin, over gRPC", () => {
  it("answers GetPluginInfo and Configure as the SDK's plugin", async () => {
    const pkg = JSON.parse(
      readFileSync(join(root, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8"),
    ) as { version: string };
    expect(await provider.getPluginInfo()).toEqual({ version: pkg.version });
    // No secrets on the wire to it: the engine sends it plain values.
    expect(await provider.configure({})).toEqual({ acceptSecrets: false });
  });

  it("creates, updates the URL and pinned CA without replacing, and deletes the enrollment", async () => {
    const ca = opensslTenantCa(cp.dir, "riverside");
    const mac = "02:00:00:dd:00:01";
    const inputs: Props = {
      controlPlaneUrl: cp.url,
      controlPlaneCaPem: cp.caPem,
      tenantId: "riverside",
      applianceId: "box-grpc",
      macAddresses: [mac],
      tenantCaCertPem: ca.certPem,
      tenantCaKeyPem: ca.keyPem,
      retentionDays: 2192,
      tokenTtlSeconds: 3600,
      tokenGeneration: 1,
      __provider: serialized,
    };

    // Create: Check, then Create with the checked inputs.
    const checked = await provider.check(URN, {}, inputs);
    expect(checked.failures).toEqual([]);
    expect(checked.inputs.__provider).toBe(serialized);
    const created = await provider.create(URN, checked.inputs);
    expect(created.id).toBe("riverside/box-grpc");
    expect(created.properties).toMatchObject({ status: "registered", __provider: serialized });
    const token = String(created.properties.enrollmentToken);
    expect((await cp.get("/v1/admin/tenants/riverside/appliances/box-grpc")).body.status).toBe(
      "registered",
    );
    expect(await enrollAs(cp, token, mac)).toEqual({ http: 200, status: "enrolled" });

    // Update: the same control plane under another name, and a pinned CA bundle that adds
    // the next CA. Diff says update, not replace: the enrolled appliance stays active.
    const next = opensslTenantCa(cp.dir, "next-server-ca");
    const moved: Props = {
      ...inputs,
      controlPlaneUrl: `https://localhost:${new URL(cp.url).port}`,
      controlPlaneCaPem: `${cp.caPem.trim()}\n${next.certPem}`,
    };
    const rechecked = await provider.check(URN, checked.inputs, moved);
    const diff = await provider.diff(
      URN,
      created.id,
      created.properties,
      rechecked.inputs,
      checked.inputs,
    );
    expect(diff).toMatchObject({ changes: DIFF_SOME, replaces: [] });
    const updated = await provider.update(
      URN,
      created.id,
      created.properties,
      rechecked.inputs,
      checked.inputs,
    );
    expect(updated).toMatchObject({
      controlPlaneUrl: moved.controlPlaneUrl,
      controlPlaneCaPem: moved.controlPlaneCaPem,
      enrollmentToken: token,
      __provider: serialized,
    });
    expect((await cp.get("/v1/admin/tenants/riverside/appliances/box-grpc")).body.status).toBe(
      "active",
    );

    // A new tenant CA is an update too, refused by the provider without touching anything.
    const otherCa = opensslTenantCa(cp.dir, "other-tenant-ca");
    const rotated = await provider.check(URN, rechecked.inputs, {
      ...moved,
      tenantCaCertPem: otherCa.certPem,
      tenantCaKeyPem: otherCa.keyPem,
    });
    expect(
      await provider.diff(URN, created.id, updated, rotated.inputs, rechecked.inputs),
    ).toMatchObject({ changes: DIFF_SOME, replaces: [] });
    await expect(
      provider.update(URN, created.id, updated, rotated.inputs, rechecked.inputs),
    ).rejects.toThrow(/the tenant CA changed/);

    // Refresh reads the control plane through the new URL.
    const read = await provider.read(URN, created.id, updated, rechecked.inputs);
    expect(read).toMatchObject({
      id: created.id,
      properties: { status: "active", __provider: serialized },
    });

    // Delete: an enrolled appliance is revoked and its record (and evidence) kept.
    await provider.delete(URN, created.id, updated, rechecked.inputs);
    expect((await cp.get("/v1/admin/tenants/riverside/appliances/box-grpc")).body.status).toBe(
      "revoked",
    );
    expect(provider.plugin.stderr()).not.toContain(cp.adminToken);
  }, 120_000);

  it("stops the plugin and the Node process its script started", async () => {
    // Processes whose command line names the dynamic-provider runner and this engine.
    const running = () =>
      readdirSync("/proc")
        .filter((d) => /^\d+$/.test(d))
        .filter((pid) => {
          try {
            const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
            return (
              argv.includes(engine.address) && argv.some((a) => a.includes("dynamic-provider"))
            );
          } catch {
            return false; // gone meanwhile
          }
        });
    expect(running()).toHaveLength(1);
    await provider.stop();
    for (let i = 0; i < 50 && running().length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(running()).toEqual([]);
  });
});
