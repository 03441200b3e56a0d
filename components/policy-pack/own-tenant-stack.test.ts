import { describe, expect, it } from "vitest";
import { TENANT_CONFIG } from "../testing/configs.ts";
import { isEvidenceBucket } from "./policies/evidence-buckets.ts";
import { build, runPack } from "./testing.ts";

/** The tenant stack passes the platform's own policy pack; without a protection it fails. */
describe("the policy pack on the tenant stack", () => {
  it("passes the tenant stack, and fails it when a protection is taken away", async () => {
    const resources = await build("riverside", TENANT_CONFIG);
    expect(resources.filter(isEvidenceBucket)).toHaveLength(1);
    expect(runPack(resources)).toEqual([]);

    const withoutVersioning = resources.filter(
      (r) => r.type !== "aws:s3/bucketVersioning:BucketVersioning",
    );
    expect(runPack(withoutVersioning)).toEqual([
      expect.stringMatching(/^evidence bucket riverside-vault-bucket: versioning is not enabled$/),
    ]);
    const weakKey = resources.map((r) =>
      r.type === "tls:index/privateKey:PrivateKey" ? { ...r, props: { algorithm: "ECDSA" } } : r,
    );
    expect(runPack(weakKey)).toHaveLength(1);
  });
});
