import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  enrollAs,
  type LiveControlPlane,
  opensslTenantCa,
  startControlPlane,
} from "../testing/live-control-plane.ts";
import { type EnrollmentInputs, type EnrollmentOutputs, enrollmentProvider } from "./provider.ts";

/**
 * The ApplianceEnrollment provider against a real control plane (init + serve as child
 * processes, TLS on loopback with the data directory's CA pinned), its methods called
 * directly as the Pulumi engine would (the engine itself cannot run here).
 */
function method<F>(f: F | undefined, name: string): F {
  if (!f) throw new Error(`the provider lacks ${name}`);
  return f;
}
/** The provider's methods, typed as the engine calls them (outs always present here). */
const p = {
  async create(inputs: EnrollmentInputs) {
    const r = await enrollmentProvider.create(inputs);
    return { id: r.id, outs: r.outs as EnrollmentOutputs };
  },
  read: (id: string, props: EnrollmentOutputs) =>
    method(enrollmentProvider.read, "read")(id, props),
  diff: (id: string, olds: EnrollmentOutputs, news: EnrollmentInputs) =>
    method(enrollmentProvider.diff, "diff")(id, olds, news),
  async update(id: string, olds: EnrollmentOutputs, news: EnrollmentInputs) {
    const r = await method(enrollmentProvider.update, "update")(id, olds, news);
    return { outs: r.outs as EnrollmentOutputs };
  },
  delete: (id: string, props: EnrollmentOutputs) =>
    method(enrollmentProvider.delete, "delete")(id, props),
};

let cp: LiveControlPlane;
let ca: { certPem: string; keyPem: string };
const saved = { token: process.env.MSP_ADMIN_TOKEN, file: process.env.MSP_ADMIN_TOKEN_FILE };

beforeAll(async () => {
  cp = await startControlPlane();
  ca = opensslTenantCa(cp.dir, "riverside");
  process.env.MSP_ADMIN_TOKEN = cp.adminToken;
  delete process.env.MSP_ADMIN_TOKEN_FILE;
});
afterAll(async () => {
  if (saved.token === undefined) delete process.env.MSP_ADMIN_TOKEN;
  else process.env.MSP_ADMIN_TOKEN = saved.token;
  if (saved.file !== undefined) process.env.MSP_ADMIN_TOKEN_FILE = saved.file;
  await cp?.stop();
});

let macCounter = 0x10;
function inputs(applianceId: string, overrides: Partial<EnrollmentInputs> = {}): EnrollmentInputs {
  macCounter++;
  return {
    controlPlaneUrl: cp.url,
    controlPlaneCaPem: cp.caPem,
    tenantId: "riverside",
    applianceId,
    macAddresses: [`02:00:00:aa:00:${macCounter.toString(16).padStart(2, "0")}`],
    tenantCaCertPem: ca.certPem,
    tenantCaKeyPem: ca.keyPem,
    retentionDays: 2192,
    tokenTtlSeconds: 3600,
    tokenGeneration: 1,
    ...overrides,
  };
}
const path = (a: string) => `/v1/admin/tenants/riverside/appliances/${a}`;

describe("create", () => {
  it("registers the site and returns a token that enrolls the appliance exactly once", async () => {
    const args = inputs("box-create");
    const { id, outs } = await p.create(args);
    expect(id).toBe("riverside/box-create");
    expect(outs).toMatchObject({ status: "registered", macAddresses: args.macAddresses });
    expect(outs.enrollmentToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(outs.tokenExpiresAt) - Date.now()).toBeGreaterThan(3500_000);
    const site = await cp.get(path("box-create"));
    expect(site.body).toMatchObject({ status: "registered", mac_addresses: args.macAddresses });
    expect(JSON.stringify(outs)).not.toContain(cp.adminToken);

    const mac = args.macAddresses[0] as string;
    expect(await enrollAs(cp, outs.enrollmentToken, mac)).toEqual({
      http: 200,
      status: "enrolled",
    });
    expect((await enrollAs(cp, outs.enrollmentToken, mac)).http).toBe(403);
  });

  it("is idempotent: a retried create adopts its own unused registration with a new token", async () => {
    const args = inputs("box-retry");
    const first = await p.create(args);
    const second = await p.create(args);
    expect(second.id).toBe(first.id);
    expect(second.outs.enrollmentToken).not.toBe(first.outs.enrollmentToken);
    const mac = args.macAddresses[0] as string;
    expect((await enrollAs(cp, first.outs.enrollmentToken, mac)).http).toBe(403);
    expect((await enrollAs(cp, second.outs.enrollmentToken, mac)).status).toBe("enrolled");
  });

  it("refuses to take over an enrolled appliance or one with other MACs", async () => {
    const args = inputs("box-taken");
    const { outs } = await p.create(args);
    await expect(p.create({ ...args, macAddresses: ["02:00:00:bb:00:01"] })).rejects.toThrow(
      /HTTP 409.*already registered/,
    );
    await enrollAs(cp, outs.enrollmentToken, args.macAddresses[0] as string);
    await expect(p.create(args)).rejects.toThrow(/exists as active/);
  });

  it("refuses a tenant CA other than the one the tenant was registered with", async () => {
    const other = opensslTenantCa(cp.dir, "impostor");
    await expect(
      p.create(inputs("box-ca", { tenantCaCertPem: other.certPem, tenantCaKeyPem: other.keyPem })),
    ).rejects.toThrow(/another CA/);
  });
});

describe("read", () => {
  it("reports the control plane's status and MACs, and nothing once removed out of band", async () => {
    const args = inputs("box-read");
    const { id, outs } = await p.create(args);
    await enrollAs(cp, outs.enrollmentToken, args.macAddresses[0] as string);
    const read = await p.read(id, outs);
    expect(read?.props).toMatchObject({ status: "active", enrollmentToken: outs.enrollmentToken });

    const gone = inputs("box-gone");
    const created = await p.create(gone);
    await p.delete(created.id, created.outs);
    expect(await p.read(created.id, created.outs)).toEqual({});
  });
});

describe("diff", () => {
  const olds = {
    controlPlaneUrl: "https://cp.example.net",
    controlPlaneCaPem: "ca",
    tenantId: "riverside",
    applianceId: "box-1",
    macAddresses: ["02:00:00:00:00:01", "02:00:00:00:00:02"],
    tenantCaCertPem: "cert",
    tenantCaKeyPem: "key",
    retentionDays: 2192,
    tokenTtlSeconds: 3600,
    tokenGeneration: 1,
    enrollmentToken: "t",
    tokenExpiresAt: "x",
    status: "registered",
  } satisfies EnrollmentOutputs;
  it.each([
    ["nothing", {}, false, []],
    ["MAC order only", { macAddresses: ["02:00:00:00:00:02", "02:00:00:00:00:01"] }, false, []],
    ["the MACs", { macAddresses: ["02:00:00:00:00:03"] }, true, []],
    ["the token generation", { tokenGeneration: 2 }, true, []],
    ["the pinned CA", { controlPlaneCaPem: "ca2" }, true, []],
    ["the appliance id", { applianceId: "box-2" }, true, ["applianceId"]],
    ["the tenant", { tenantId: "lakeside" }, true, ["tenantId"]],
    // Updates, never replacements: a replacement would revoke the enrolled appliance.
    ["the control plane URL", { controlPlaneUrl: "https://cp2.example.net" }, true, []],
    ["the tenant CA", { tenantCaCertPem: "cert2" }, true, []],
  ])("changing %s", async (_what, change, changes, replaces) => {
    const result = await p.diff("riverside/box-1", olds, { ...olds, ...change });
    expect(result?.changes).toBe(changes);
    expect(result?.replaces).toEqual(replaces);
    expect(result?.deleteBeforeReplace).toBe(true);
  });
});

describe("update of the URL or the tenant CA", () => {
  it("follows the control plane to a new URL that serves the registration, keeping the token", async () => {
    const created = await p.create(inputs("box-url"));
    const url = new URL(cp.url);
    const moved = { ...created.outs, controlPlaneUrl: `https://localhost:${url.port}` };
    const updated = await p.update(created.id, created.outs, moved);
    expect(updated.outs).toMatchObject({
      controlPlaneUrl: moved.controlPlaneUrl,
      enrollmentToken: created.outs.enrollmentToken,
    });
    expect((await cp.get(`/v1/admin/tenants/riverside/appliances/box-url`)).body.status).toBe(
      "registered",
    );
  });

  it("refuses a new tenant CA without touching the registration", async () => {
    const created = await p.create(inputs("box-newca"));
    await expect(
      p.update(created.id, created.outs, { ...created.outs, tenantCaCertPem: "other" }),
    ).rejects.toThrow("the tenant CA changed");
    expect((await cp.get(`/v1/admin/tenants/riverside/appliances/box-newca`)).body.status).toBe(
      "registered",
    );
  });
});

describe("update", () => {
  it("a new token generation replaces the token before enrollment", async () => {
    const args = inputs("box-rotate");
    const { id, outs } = await p.create(args);
    const { outs: next } = await p.update(id, outs, { ...args, tokenGeneration: 2 });
    expect(next.enrollmentToken).not.toBe(outs.enrollmentToken);
    const mac = args.macAddresses[0] as string;
    expect((await enrollAs(cp, outs.enrollmentToken, mac)).http).toBe(403);
    expect((await enrollAs(cp, next.enrollmentToken, mac)).status).toBe("enrolled");
    await expect(p.update(id, next, { ...args, tokenGeneration: 3 })).rejects.toThrow(
      /active: no token to replace/,
    );
  });

  it("new MACs re-register a site that has not enrolled, and are refused once it has", async () => {
    const args = inputs("box-macs");
    const { id, outs } = await p.create(args);
    const moved = { ...args, macAddresses: ["02:00:00:cc:00:01"] };
    const { outs: next } = await p.update(id, outs, moved);
    expect((await cp.get(path("box-macs"))).body.mac_addresses).toEqual(["02:00:00:cc:00:01"]);
    expect((await enrollAs(cp, next.enrollmentToken, "02:00:00:cc:00:01")).status).toBe("enrolled");
    await expect(
      p.update(id, next, { ...args, macAddresses: ["02:00:00:cc:00:02"] }),
    ).rejects.toThrow(/active: its MAC addresses cannot change after enrollment/);
  });

  it("other changes keep the token", async () => {
    const args = inputs("box-keep");
    const { id, outs } = await p.create(args);
    const { outs: next } = await p.update(id, outs, { ...args, tokenTtlSeconds: 7200 });
    expect(next).toMatchObject({ enrollmentToken: outs.enrollmentToken, tokenTtlSeconds: 7200 });
  });
});

describe("delete", () => {
  it("removes a registration that never enrolled, and succeeds again when it is gone", async () => {
    const args = inputs("box-delete");
    const { id, outs } = await p.create(args);
    await p.delete(id, outs);
    expect((await cp.get(path("box-delete"))).status).toBe(404);
    await p.delete(id, outs);
    // the id is free: a new `pulumi up` registers it again
    expect((await p.create(args)).outs.status).toBe("registered");
  });

  it("revokes an enrolled appliance and keeps its record (evidence outlives the stack)", async () => {
    const args = inputs("box-enrolled");
    const { id, outs } = await p.create(args);
    await enrollAs(cp, outs.enrollmentToken, args.macAddresses[0] as string);
    await p.delete(id, outs);
    expect((await cp.get(path("box-enrolled"))).body.status).toBe("revoked");
  });
});

describe("credentials and TLS", () => {
  it("needs the admin token from the environment and names the variables", async () => {
    delete process.env.MSP_ADMIN_TOKEN;
    try {
      await expect(p.create(inputs("box-no-token"))).rejects.toThrow(
        /set MSP_ADMIN_TOKEN or MSP_ADMIN_TOKEN_FILE/,
      );
    } finally {
      process.env.MSP_ADMIN_TOKEN = cp.adminToken;
    }
  });

  it("reads MSP_ADMIN_TOKEN_FILE, and a wrong token is refused without echoing it", async () => {
    delete process.env.MSP_ADMIN_TOKEN;
    const file = join(cp.dir, "admin-token");
    process.env.MSP_ADMIN_TOKEN_FILE = file;
    try {
      expect((await p.create(inputs("box-token-file"))).outs.status).toBe("registered");
      process.env.MSP_ADMIN_TOKEN = "wrong-token-0123456789";
      const error = await p.create(inputs("box-wrong")).catch((e: Error) => e);
      expect(String(error)).toMatch(/HTTP 401/);
      expect(String(error)).not.toContain("wrong-token-0123456789");
    } finally {
      delete process.env.MSP_ADMIN_TOKEN_FILE;
      process.env.MSP_ADMIN_TOKEN = cp.adminToken;
    }
  });

  it("trusts only the pinned CA", async () => {
    const stranger = opensslTenantCa(cp.dir, "stranger").certPem;
    await expect(p.create(inputs("box-tls", { controlPlaneCaPem: stranger }))).rejects.toThrow(
      /self-signed|unable to verify|certificate/i,
    );
  });
});

describe("as Pulumi runs it: the serialized closure in fresh processes", () => {
  const CHILD = resolve(import.meta.dirname, "..", "testing", "serialized-provider-child.ts");
  const run = (args: string[], stdin = "", env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, [CHILD, ...args], {
      input: stdin,
      encoding: "utf8",
      env,
      timeout: 30_000,
    });

  it("serializes without the admin token and runs create and delete against the control plane", () => {
    const file = join(cp.dir, "provider.js");
    const serialized = run(["serialize", file]);
    expect(serialized.status, serialized.stderr).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(cp.adminToken);
    expect(text).toContain("MSP_ADMIN_TOKEN");

    const args = inputs("box-serialized");
    const created = run(["call", file, "create"], JSON.stringify([args]));
    expect(created.status, created.stderr).toBe(0);
    const { id, outs } = JSON.parse(created.stdout) as { id: string; outs: EnrollmentOutputs };
    expect(outs.status).toBe("registered");
    const deleted = run(["call", file, "delete"], JSON.stringify([id, outs]));
    expect(deleted.status, deleted.stderr).toBe(0);
    const { MSP_ADMIN_TOKEN: _t, ...withoutToken } = process.env;
    const refused = run(["call", file, "create"], JSON.stringify([args]), withoutToken);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/set MSP_ADMIN_TOKEN/);
  });
});
