import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { DESTRUCTIVE_ACTIONS, type PolicyDocument } from "./evidence-vault/policies.ts";
import { runProgram } from "./program.ts";
import { TENANT_CONFIG } from "./testing/configs.ts";
import {
  CENTRAL_OUTPUTS,
  isWireSecret,
  one,
  type Recorded,
  recordResources,
  resolvedValue,
  settled,
  unwrap,
} from "./testing/mocks.ts";

/**
 * The tenant stack under Pulumi's mocks: the program parses the stack config, reads the
 * central stack and builds one ClientTenant. Asserts types, names, parents, key inputs and
 * the secrecy of what must stay secret.
 */
const CANARY = "admin-token-canary-0123456789";
const config = {
  ...TENANT_CONFIG,
  // two MACs, out of order: the registration sorts them
  "msp:applianceMacs": '["52:54:00:12:34:57","52:54:00:12:34:56"]',
};

let recorded: Recorded[];
let outputs: Record<string, pulumi.Output<unknown>>;
const saved = process.env.MSP_ADMIN_TOKEN;

beforeAll(async () => {
  process.env.MSP_ADMIN_TOKEN = CANARY;
  try {
    recorded = await recordResources("riverside");
    outputs = await runProgram(config, "riverside");
    await settled(outputs);
  } finally {
    if (saved === undefined) delete process.env.MSP_ADMIN_TOKEN;
    else process.env.MSP_ADMIN_TOKEN = saved;
  }
});

const typeOf = (urn: string) => urn.split("::")[2]?.split("$").pop();
const parentOf = (r: Recorded) => recorded.find((p) => p.urn === r.parentUrn);
const policy = (r: Recorded) => JSON.parse(String(r.inputs.policy)) as PolicyDocument;

describe("component tree", () => {
  it("builds the tenant from its four parts, every child parented and named after it", () => {
    const root = one(recorded, "msp:tenant:ClientTenant", "riverside");
    for (const [type, name] of [
      ["msp:tenant:TenantDns", "riverside-dns"],
      ["msp:tenant:TenantPki", "riverside-pki"],
      ["msp:tenant:EvidenceVault", "riverside-vault"],
      ["pulumi-nodejs:dynamic/msp:ApplianceEnrollment", "riverside-enrollment"],
    ] as const) {
      expect(parentOf(one(recorded, type, name))?.urn, name).toBe(root.urn);
    }
    for (const r of recorded.filter(
      (r) => r.type !== "pulumi:pulumi:StackReference" && r !== root,
    )) {
      expect(r.name.startsWith("riverside-"), r.name).toBe(true);
      expect(r.parentUrn, r.name).not.toBe("");
    }
    const buckets = recorded.filter((r) => r.type === "aws:s3/bucket:Bucket");
    expect(buckets.map((b) => typeOf(b.parentUrn))).toEqual([
      "msp:tenant:EvidenceVault",
      "msp:tenant:EvidenceVault",
    ]);
  });

  it("reads the control plane from the central stack named in the config", () => {
    expect(one(recorded, "pulumi:pulumi:StackReference").inputs.name).toBe(
      "organization/msp-compliance/central",
    );
  });
});

describe("TenantDns", () => {
  it("points <slug>.<zone> at the control plane, unproxied (mTLS end to end)", () => {
    expect(one(recorded, "cloudflare:index/dnsRecord:DnsRecord").inputs).toMatchObject({
      zoneId: "0123456789abcdef0123456789abcdef",
      name: "riverside.clinics.example.net",
      type: "CNAME",
      content: CENTRAL_OUTPUTS.controlPlaneHostname,
      proxied: false,
      ttl: 1,
    });
  });
});

describe("TenantPki", () => {
  it("makes an ECDSA P-256 CA (never the P-224 default) and hands its key on as a secret", () => {
    expect(one(recorded, "tls:index/privateKey:PrivateKey", "riverside-pki-ca-key").inputs).toEqual(
      {
        algorithm: "ECDSA",
        ecdsaCurve: "P256",
      },
    );
    expect(one(recorded, "tls:index/selfSignedCert:SelfSignedCert").inputs).toMatchObject({
      isCaCertificate: true,
      allowedUses: expect.arrayContaining(["cert_signing"]),
      subject: { commonName: "riverside tenant CA", organization: "Riverside Family Clinic" },
    });
    const enrollment = one(recorded, "pulumi-nodejs:dynamic/msp:ApplianceEnrollment");
    expect(isWireSecret(enrollment.wireInputs.tenantCaKeyPem)).toBe(true);
    expect(String(unwrap(enrollment.inputs.tenantCaKeyPem))).toMatch(
      /^-----BEGIN PRIVATE KEY-----/,
    );
  });
});

describe("EvidenceVault", () => {
  it("creates the evidence bucket with Object Lock and COMPLIANCE retention of six years", () => {
    const bucket = one(recorded, "aws:s3/bucket:Bucket", "riverside-vault-bucket");
    expect(bucket.inputs).toMatchObject({ objectLockEnabled: true, forceDestroy: false });
    expect(String(bucket.inputs.bucketPrefix)).toBe("msp-riverside-evidence-");
    const lock = one(
      recorded,
      "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    );
    expect(lock.inputs).toMatchObject({
      objectLockEnabled: "Enabled",
      rule: { defaultRetention: { mode: "COMPLIANCE", days: 2192 } },
    });
    expect(lock.inputs.rule).not.toHaveProperty("defaultRetention.years");
  });

  it("versions, encrypts with a rotating KMS key and blocks all public access", () => {
    expect(
      one(recorded, "aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration,
    ).toEqual({ status: "Enabled" });
    const key = one(recorded, "aws:kms/key:Key");
    expect(key.inputs).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
    const sse = one(
      recorded,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "riverside-vault-bucket",
    );
    expect(sse.inputs.rules).toEqual([
      {
        applyServerSideEncryptionByDefault: {
          sseAlgorithm: "aws:kms",
          kmsMasterKeyId: "arn:aws:kms:us-east-2:123456789012:key/riverside-vault-key",
        },
        bucketKeyEnabled: true,
      },
    ]);
    const blocks = recorded.filter(
      (r) => r.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    );
    expect(blocks).toHaveLength(2);
    for (const b of blocks) {
      expect(b.inputs).toMatchObject({
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
    }
  });

  it("denies non-TLS access and every delete in the bucket policy", () => {
    const doc = policy(one(recorded, "aws:s3/bucketPolicy:BucketPolicy", "riverside-vault-bucket"));
    const tlsOnly = doc.Statement.find((s) => s.Sid === "DenyInsecureTransport");
    expect(tlsOnly).toMatchObject({
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Condition: { Bool: { "aws:SecureTransport": false } },
    });
    expect(doc.Statement.find((s) => s.Sid === "DenyEvidenceDeletes")).toMatchObject({
      Effect: "Deny",
      Action: expect.arrayContaining(["s3:DeleteObject", "s3:DeleteObjectVersion"]),
    });
  });

  it("logs access to a separate bucket and moves evidence to colder storage", () => {
    const logs = one(recorded, "aws:s3/bucket:Bucket", "riverside-vault-access-logs");
    expect(logs.inputs.objectLockEnabled).toBeUndefined();
    expect(one(recorded, "aws:s3/bucketLogging:BucketLogging").inputs).toMatchObject({
      bucket: "riverside-vault-bucket-id",
      targetBucket: "riverside-vault-access-logs-id",
    });
    const logPolicy = policy(
      one(recorded, "aws:s3/bucketPolicy:BucketPolicy", "riverside-vault-access-logs"),
    );
    expect(logPolicy.Statement.find((s) => s.Sid === "S3ServerAccessLogs")).toMatchObject({
      Principal: { Service: "logging.s3.amazonaws.com" },
      Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
    });
    const lifecycle = one(
      recorded,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      "riverside-vault-bucket",
    );
    // Small evidence records stay in Standard (Glacier IR bills 128 KiB per object).
    expect(lifecycle.inputs.transitionDefaultMinimumObjectSize).toBe("all_storage_classes_128K");
    expect(lifecycle.inputs.rules).toMatchObject([
      { status: "Enabled", transitions: [{ days: 90, storageClass: "GLACIER_IR" }] },
    ]);
    expect(JSON.stringify(lifecycle.inputs)).not.toMatch(/expiration/i);
  });

  it("protects and retains the buckets and the key, and nothing else", () => {
    const kept = recorded.filter((r) => r.options.protect || r.options.retainOnDelete);
    const rows = kept.map((r) => [r.type, r.name, r.options.protect, r.options.retainOnDelete]);
    expect(rows.sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      ["aws:s3/bucket:Bucket", "riverside-vault-access-logs", true, true],
      ["aws:s3/bucket:Bucket", "riverside-vault-bucket", true, true],
      ["aws:kms/key:Key", "riverside-vault-key", true, true],
    ]);
  });

  it("lets nobody schedule the key's deletion", () => {
    const doc = policy(one(recorded, "aws:kms/key:Key"));
    expect(doc.Statement).toContainEqual({
      Sid: "NeverScheduleKeyDeletion",
      Effect: "Deny",
      Principal: "*",
      Action: "kms:ScheduleKeyDeletion",
      Resource: "*",
    });
    expect(doc.Statement.find((s) => s.Effect === "Allow")?.Principal).toEqual({
      AWS: "arn:aws:iam::123456789012:root",
    });
  });

  it("refuses any write of a retention under six years or outside COMPLIANCE", () => {
    const doc = policy(one(recorded, "aws:s3/bucketPolicy:BucketPolicy", "riverside-vault-bucket"));
    const writes = ["s3:PutObject", "s3:PutObjectRetention"];
    expect(doc.Statement.find((s) => s.Sid === "DenyRetentionUnderSixYears")).toEqual({
      Sid: "DenyRetentionUnderSixYears",
      Effect: "Deny",
      Principal: "*",
      Action: writes,
      Resource: "arn:aws:s3:::msp-riverside-evidence-0001/*",
      Condition: { NumericLessThan: { "s3:object-lock-remaining-retention-days": 2192 } },
    });
    expect(doc.Statement.find((s) => s.Sid === "DenyRetentionModeOtherThanCompliance")).toEqual({
      Sid: "DenyRetentionModeOtherThanCompliance",
      Effect: "Deny",
      Principal: "*",
      Action: writes,
      Resource: "arn:aws:s3:::msp-riverside-evidence-0001/*",
      Condition: {
        StringNotEquals: { "s3:object-lock-mode": "COMPLIANCE" },
        Null: { "s3:object-lock-mode": "false" },
      },
    });
  });

  it("gives the writer identity put and retention only, and denies it every delete", () => {
    const doc = policy(one(recorded, "aws:iam/userPolicy:UserPolicy"));
    const allowed = doc.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => s.Action);
    expect(allowed).toEqual([
      "s3:PutObject",
      "s3:PutObjectRetention",
      "kms:GenerateDataKey",
      "kms:Encrypt",
    ]);
    const denied = doc.Statement.filter((s) => s.Effect === "Deny").flatMap((s) => s.Action);
    expect(denied).toEqual([...DESTRUCTIVE_ACTIONS]);
    expect(one(recorded, "aws:iam/accessKey:AccessKey").additionalSecretOutputs).toContain(
      "secret",
    );
  });
});

describe("ApplianceEnrollment", () => {
  it("registers the sorted MACs with the control plane from the central stack, pinning its CA", () => {
    const enrollment = one(recorded, "pulumi-nodejs:dynamic/msp:ApplianceEnrollment");
    expect(enrollment.inputs).toMatchObject({
      controlPlaneUrl: CENTRAL_OUTPUTS.controlPlaneUrl,
      controlPlaneCaPem: CENTRAL_OUTPUTS.controlPlaneCaCertificate,
      tenantId: "riverside",
      applianceId: "appliance-1",
      macAddresses: ["52:54:00:12:34:56", "52:54:00:12:34:57"],
      retentionDays: 2192,
      tokenTtlSeconds: 168 * 3600,
      tokenGeneration: 1,
    });
    expect(enrollment.additionalSecretOutputs).toEqual(["enrollmentToken", "tenantCaKeyPem"]);
  });

  it("never puts the admin token into the state, not even inside the serialized provider", () => {
    const enrollment = one(recorded, "pulumi-nodejs:dynamic/msp:ApplianceEnrollment");
    expect(String(enrollment.inputs.__provider)).toContain("exports.handler");
    expect(JSON.stringify(recorded)).not.toContain(CANARY);
    expect(Object.keys(enrollment.inputs)).not.toContain("adminToken");
  });
});

describe("stack outputs", () => {
  it("gives the operator what the docs promise", async () => {
    const plain = Object.fromEntries(
      await Promise.all(Object.entries(outputs).map(async ([k, o]) => [k, await resolvedValue(o)])),
    );
    expect(plain).toMatchObject({
      clientName: "Riverside Family Clinic",
      hostname: "riverside.clinics.example.net",
      bucketName: "msp-riverside-evidence-0001",
      bucketArn: "arn:aws:s3:::msp-riverside-evidence-0001",
      retentionDays: 2192,
      enrollmentToken: "mock-token-of-riverside",
      applianceId: "appliance-1",
      applianceMacs: ["52:54:00:12:34:56", "52:54:00:12:34:57"],
      controlPlaneUrl: CENTRAL_OUTPUTS.controlPlaneUrl,
      orderSigningPublicKey: CENTRAL_OUTPUTS.orderSigningPublicKey,
    });
    expect(String(plain.caCertificate)).toMatch(/BEGIN CERTIFICATE/);
  });

  it.each([
    ["enrollmentToken", true],
    ["evidenceWriterSecretAccessKey", true],
    ["bucketName", false],
    ["hostname", false],
    ["caCertificate", false],
  ])("%s is secret: %s", async (key, secret) => {
    expect(await pulumi.isSecret(outputs[key] as pulumi.Output<unknown>)).toBe(secret);
  });
});

describe("wrong configuration", () => {
  it("fails before any resource with the key and the fixing command", async () => {
    const before = recorded.length;
    await expect(runProgram({ ...config, "msp:retentionDays": "30" }, "riverside")).rejects.toThrow(
      "msp:retentionDays: at least 2192 days (six years); set it with: pulumi config set --stack riverside msp:retentionDays 2192",
    );
    expect(recorded.length).toBe(before);
  });
});
