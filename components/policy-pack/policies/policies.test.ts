import { readdirSync } from "node:fs";
import type { ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { writerPolicy } from "../../evidence-vault/policies.ts";
import { evidenceEncryption } from "./evidence-encryption.ts";
import { evidenceObjectLockAttached } from "./evidence-object-lock-attached.ts";
import { evidenceObjectLockCompliance } from "./evidence-object-lock-compliance.ts";
import { evidencePublicAccessBlocked } from "./evidence-public-access-blocked.ts";
import { evidenceTlsOnly } from "./evidence-tls-only.ts";
import { evidenceVersioning } from "./evidence-versioning.ts";
import { POLICIES } from "./index.ts";
import { tlsKeyStrength } from "./tls-key-strength.ts";
import type { MspResourcePolicy, MspStackPolicy, StackResource } from "./types.ts";
import { writerNeverDeletes } from "./writer-never-deletes.ts";

/**
 * Each policy called directly through the entry point the policy engine calls
 * (validateResource / validateStack); constructing the PolicyPack would start its server.
 */
function violations(
  policy: MspResourcePolicy,
  type: string,
  props: Record<string, unknown>,
): string[] {
  const found: string[] = [];
  const validate = policy.validateResource;
  if (typeof validate !== "function") throw new Error("expected one validateResource");
  validate(
    { type, props, urn: `urn:pulumi:s::p::${type}::r`, name: "r" } as ResourceValidationArgs,
    (m) => {
      found.push(m);
    },
  );
  return found;
}

function stackViolations(policy: MspStackPolicy, resources: StackResource[]): string[] {
  const found: string[] = [];
  policy.validateStack({ resources } as unknown as StackValidationArgs, (m) => {
    found.push(m);
  });
  return found;
}

const BUCKET_URN = "urn:pulumi:s::p::aws:s3/bucket:Bucket::vault";
const evidenceBucket: StackResource = {
  type: "aws:s3/bucket:Bucket",
  name: "vault",
  urn: BUCKET_URN,
  props: { objectLockEnabled: true, tags: { "msp:purpose": "hipaa-evidence" } },
  propertyDependencies: {},
};
const on = (
  type: string,
  props: Record<string, unknown>,
  bucket = evidenceBucket,
): StackResource => ({
  type,
  name: `${type}-of-${bucket.name}`,
  urn: `urn:pulumi:s::p::${type}::${bucket.name}`,
  props,
  propertyDependencies: { bucket: [bucket] },
});

describe("registry", () => {
  it("holds one policy per module, sorted, named after its file, all mandatory", () => {
    const files = readdirSync(import.meta.dirname)
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .filter(
        (f) => !["index.ts", "types.ts", "evidence-buckets.ts", "iam-documents.ts"].includes(f),
      )
      .map((f) => f.replace(/\.ts$/, ""))
      .sort();
    expect(POLICIES.map((p) => p.name)).toEqual(files);
    for (const p of POLICIES) {
      expect(p.enforcementLevel).toBe("mandatory");
      expect(p.description.length).toBeGreaterThan(40);
    }
  });
});

describe("evidence-object-lock-compliance", () => {
  const LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration";
  it.each([
    ["COMPLIANCE 2192 days", { mode: "COMPLIANCE", days: 2192 }, []],
    ["COMPLIANCE 7 years", { mode: "COMPLIANCE", years: 7 }, []],
    ["COMPLIANCE 6 years", { mode: "COMPLIANCE", years: 6 }, []],
    [
      "COMPLIANCE 2191 days",
      { mode: "COMPLIANCE", days: 2191 },
      ["default retention is 2191 days; at least 2192 days (six years)"],
    ],
    [
      "COMPLIANCE 5 years",
      { mode: "COMPLIANCE", years: 5 },
      ["default retention is 5 years; at least 2192 days (six years)"],
    ],
    [
      "GOVERNANCE",
      { mode: "GOVERNANCE", days: 3000 },
      ["default retention mode is GOVERNANCE; use COMPLIANCE (GOVERNANCE can be bypassed)"],
    ],
  ])("%s", (_what, defaultRetention, expected) => {
    expect(violations(evidenceObjectLockCompliance, LOCK, { rule: { defaultRetention } })).toEqual(
      expected,
    );
  });

  it("refuses a lock configuration without default retention, and an evidence bucket without Object Lock", () => {
    expect(violations(evidenceObjectLockCompliance, LOCK, {})).toEqual([
      "the Object Lock configuration has no default retention",
    ]);
    expect(
      violations(evidenceObjectLockCompliance, "aws:s3/bucket:Bucket", {
        tags: { "msp:purpose": "hipaa-evidence" },
      }),
    ).toHaveLength(1);
    expect(violations(evidenceObjectLockCompliance, "aws:s3/bucket:Bucket", { tags: {} })).toEqual(
      [],
    );
  });
});

describe("evidence bucket protections (stack policies)", () => {
  const lock = on("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", {
    rule: { defaultRetention: { mode: "COMPLIANCE", days: 2192 } },
  });
  const versioning = on("aws:s3/bucketVersioning:BucketVersioning", {
    versioningConfiguration: { status: "Enabled" },
  });
  const sse = on(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    {
      rules: [
        { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: "k" } },
      ],
    },
  );
  const pab = on("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  const policy = on("aws:s3/bucketPolicy:BucketPolicy", {
    policy: JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Deny",
          Principal: "*",
          Action: "s3:*",
          Resource: "*",
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ],
    }),
  });
  const complete = [evidenceBucket, lock, versioning, sse, pab, policy];

  it("a complete evidence bucket passes all of them", () => {
    for (const p of [
      evidenceObjectLockAttached,
      evidenceVersioning,
      evidenceEncryption,
      evidencePublicAccessBlocked,
      evidenceTlsOnly,
    ]) {
      expect(stackViolations(p, complete), p.name).toEqual([]);
    }
  });

  it.each([
    [
      evidenceObjectLockAttached,
      lock,
      "evidence bucket vault: no Object Lock configuration (default retention)",
    ],
    [evidenceVersioning, versioning, "evidence bucket vault: versioning is not enabled"],
    [evidenceEncryption, sse, "evidence bucket vault: no default SSE-KMS encryption"],
    [
      evidencePublicAccessBlocked,
      pab,
      "evidence bucket vault: public access not blocked: blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets off",
    ],
    [
      evidenceTlsOnly,
      policy,
      "evidence bucket vault: the bucket policy does not deny requests without TLS",
    ],
  ])("%s: a missing part is reported on the bucket", (p, missing, message) => {
    expect(
      stackViolations(
        p,
        complete.filter((r) => r !== missing),
      ),
    ).toEqual([message]);
  });

  it("a part attached to another bucket does not count, a weak one does not pass", () => {
    const other = { ...evidenceBucket, name: "other", urn: `${BUCKET_URN}-other` };
    const elsewhere = on(
      "aws:s3/bucketVersioning:BucketVersioning",
      { versioningConfiguration: { status: "Enabled" } },
      other,
    );
    expect(stackViolations(evidenceVersioning, [evidenceBucket, other, elsewhere])).toHaveLength(1);
    const suspended = on("aws:s3/bucketVersioning:BucketVersioning", {
      versioningConfiguration: { status: "Suspended" },
    });
    expect(stackViolations(evidenceVersioning, [evidenceBucket, suspended])).toHaveLength(1);
    const aes = on(
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      {
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
      },
    );
    expect(stackViolations(evidenceEncryption, [evidenceBucket, aes])).toHaveLength(1);
    const partial = on("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {
      ...pab.props,
      restrictPublicBuckets: false,
    });
    expect(stackViolations(evidencePublicAccessBlocked, [evidenceBucket, partial])).toEqual([
      "evidence bucket vault: public access not blocked: restrictPublicBuckets off",
    ]);
  });

  it("ignores buckets that are not evidence buckets", () => {
    const logs = {
      ...evidenceBucket,
      name: "logs",
      urn: `${BUCKET_URN}-logs`,
      props: { tags: {} },
    };
    expect(stackViolations(evidenceVersioning, [logs])).toEqual([]);
  });
});

describe("writer-never-deletes", () => {
  const USER_POLICY = "aws:iam/userPolicy:UserPolicy";
  const doc = (...Statement: unknown[]) => JSON.stringify({ Version: "2012-10-17", Statement });
  it.each([
    ["the vault's own writer policy", writerPolicy("arn:aws:s3:::b", "arn:aws:kms:k"), []],
    [
      "a reader (no put)",
      doc({ Effect: "Allow", Action: ["s3:GetObject", "s3:DeleteObject"], Resource: "*" }),
      [],
    ],
    ["s3:* with put", doc({ Effect: "Allow", Action: "s3:*", Resource: "*" }), ["s3:DeleteObject"]],
    ["*", doc({ Effect: "Allow", Action: "*", Resource: "*" }), ["s3:DeleteObject"]],
    [
      "Put plus Delete*",
      doc({ Effect: "Allow", Action: ["s3:PutObject", "S3:Delete*"], Resource: "*" }),
      ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    ],
    [
      "Put plus bypass governance",
      doc({ Effect: "Allow", Action: ["s3:Put*"], Resource: "*" }),
      ["s3:PutObjectLegalHold", "s3:PutBucketPolicy"],
    ],
    [
      "a single statement object",
      doc({ Effect: "Allow", Action: "s3:PutObject", Resource: "*" }),
      [],
    ],
  ])("%s", (_what, policy, mentioned) => {
    const found = violations(writerNeverDeletes, USER_POLICY, {
      policy: typeof policy === "string" ? policy : JSON.stringify(policy),
    });
    if (mentioned.length === 0) expect(found).toEqual([]);
    else for (const m of mentioned) expect(found.join("\n")).toContain(m);
  });

  it("refuses NotAction in an Allow, on roles and managed policies too", () => {
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: { Effect: "Allow", NotAction: "iam:*", Resource: "*" },
    });
    for (const type of [
      "aws:iam/rolePolicy:RolePolicy",
      "aws:iam/policy:Policy",
      "aws:iam/groupPolicy:GroupPolicy",
    ]) {
      expect(violations(writerNeverDeletes, type, { policy })).toHaveLength(1);
    }
  });
});

describe("tls-key-strength", () => {
  const KEY = "tls:index/privateKey:PrivateKey";
  it.each([
    [{ algorithm: "ED25519" }, 0],
    [{ algorithm: "ECDSA", ecdsaCurve: "P256" }, 0],
    [{ algorithm: "ECDSA", ecdsaCurve: "P384" }, 0],
    [{ algorithm: "ECDSA" }, 1],
    [{ algorithm: "ECDSA", ecdsaCurve: "P224" }, 1],
    [{ algorithm: "RSA" }, 1],
    [{ algorithm: "RSA", rsaBits: 2048 }, 1],
    [{ algorithm: "RSA", rsaBits: 4096 }, 0],
  ])("%j → %i violation(s)", (props, count) => {
    expect(violations(tlsKeyStrength, KEY, props)).toHaveLength(count);
  });

  it("says what the P-224 default is and how to fix it", () => {
    expect(violations(tlsKeyStrength, KEY, { algorithm: "ECDSA" })).toEqual([
      'ECDSA on P224 (the default); set ecdsaCurve: "P256" or use ED25519',
    ]);
  });
});
