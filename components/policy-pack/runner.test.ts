import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type PolicyPackProcess,
  policyPackArgs,
  startPolicyPack,
} from "../testing/fake-engine/analyzer.ts";
import { type EngineService, startEngineService } from "../testing/fake-engine/engine.ts";
import { POLICIES } from "./policies/index.ts";

/**
 * The pack as `pulumi up --policy-pack components/policy-pack` runs it: Pulumi's own
 * policy-pack runner (which registers ts-node whatever PulumiPolicy.yaml says), started by the
 * fake engine with the pack folder as working directory and `<engine> . -typescript=false`.
 * A TypeScript entry fails here with TS5097 (exit 32) before serving anything.
 */
const PACK = import.meta.dirname;
let engine: EngineService;
let pack: PolicyPackProcess;

beforeAll(async () => {
  engine = await startEngineService();
  pack = await startPolicyPack(PACK, engine.address);
}, 60_000);
afterAll(async () => {
  await pack?.stop();
  await engine?.close();
});

describe("the policy pack through Pulumi's runner", () => {
  it("is started with the engine's arguments and a JavaScript entry", () => {
    expect(policyPackArgs(PACK, "127.0.0.1:1")).toEqual(["127.0.0.1:1", ".", "-typescript=false"]);
    expect(JSON.parse(readFileSync(join(PACK, "package.json"), "utf8")).main).toBe("index.js");
  });

  it("declares the SDKs `pulumi policy publish` installs, at the versions tested here", () => {
    const pack = JSON.parse(readFileSync(join(PACK, "package.json"), "utf8"));
    const repo = JSON.parse(readFileSync(resolve(PACK, "..", "..", "package.json"), "utf8"));
    for (const sdk of ["@pulumi/policy", "@pulumi/pulumi"]) {
      expect(pack.dependencies?.[sdk], sdk).toBe(repo.dependencies[sdk]);
    }
  });

  it("serves every policy of the registry", async () => {
    const info = await pack.info();
    expect(info.name).toBe("msp-hipaa");
    expect(info.policies).toEqual(POLICIES.map((p) => p.name));
  });

  it("enforces a resource policy as mandatory and passes a compliant resource", async () => {
    const weak = await pack.analyze({
      type: "tls:index/privateKey:PrivateKey",
      name: "ca-key",
      properties: { algorithm: "ECDSA" },
    });
    expect(weak.map((v) => [v.policy, v.enforcement, v.message.split("\n").at(-1)])).toEqual([
      ["tls-key-strength", 1, 'ECDSA on P224 (the default); set ecdsaCurve: "P256" or use ED25519'],
    ]);
    expect(
      await pack.analyze({
        type: "tls:index/privateKey:PrivateKey",
        name: "ca-key",
        properties: { algorithm: "ECDSA", ecdsaCurve: "P256" },
      }),
    ).toEqual([]);
    const governance = await pack.analyze({
      type: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
      name: "lock",
      properties: { rule: { defaultRetention: { mode: "GOVERNANCE", days: 2192 } } },
    });
    expect(governance.map((v) => v.policy)).toEqual(["evidence-object-lock-compliance"]);
  });

  it("enforces the stack policies over property dependencies", async () => {
    const bucket = {
      type: "aws:s3/bucket:Bucket",
      name: "riverside-vault-bucket",
      properties: { objectLockEnabled: true, tags: { "msp:purpose": "hipaa-evidence" } },
    };
    const found = await pack.analyzeStack([bucket]);
    expect(found.map((v) => v.policy)).toContain("evidence-object-lock-attached");
    const locked = await pack.analyzeStack([
      bucket,
      {
        type: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        name: "riverside-vault-bucket",
        properties: { rule: { defaultRetention: { mode: "COMPLIANCE", days: 2192 } } },
        propertyDependencies: { bucket: ["riverside-vault-bucket"] },
      },
    ]);
    expect(locked.map((v) => v.policy)).not.toContain("evidence-object-lock-attached");
  });
});

describe("the old layout through Pulumi's runner", () => {
  it("fails with TS5097 when the entry is TypeScript importing ./x.ts", async () => {
    // The same pack with index.ts as its entry: the runner compiles it with ts-node.
    const old = mkdtempSync(join(tmpdir(), "msp-old-pack-"));
    try {
      copyFileSync(join(PACK, "PulumiPolicy.yaml"), join(old, "PulumiPolicy.yaml"));
      const pkg = JSON.parse(readFileSync(join(PACK, "package.json"), "utf8"));
      writeFileSync(join(old, "package.json"), JSON.stringify({ ...pkg, main: "index.ts" }));
      writeFileSync(join(old, "index.ts"), readFileSync(join(PACK, "index.js"), "utf8"));
      symlinkSync(join(PACK, "policies"), join(old, "policies"), "dir");
      symlinkSync(resolve(PACK, "..", "..", "node_modules"), join(old, "node_modules"), "dir");
      symlinkSync(join(PACK, "destructive-actions.ts"), join(old, "destructive-actions.ts"));
      await expect(startPolicyPack(old, engine.address)).rejects.toThrow(/TS5097/);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  }, 60_000);
});
