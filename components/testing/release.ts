import { generateKeyPairSync, sign } from "node:crypto";
import type { ReleaseManifest } from "../control-plane-host/release-manifest.ts";

/**
 * A release manifest signed with a key made for this test run, in the shape `npm run release`
 * writes, for the central stack's config under mocks.
 */
export const TEST_RELEASE_VERSION = "0.1.0+0123456789ab";

export function signedTestRelease(overrides: Partial<ReleaseManifest> = {}) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const manifest: ReleaseManifest = {
    schema: "msp-release/1",
    version: TEST_RELEASE_VERSION,
    commit: "0123456789ab".padEnd(40, "0"),
    sourceDateEpoch: 1_790_000_000,
    platform: "linux-x64",
    node: "24.21.0",
    artifacts: [
      {
        name: "control-plane",
        file: "msp-control-plane-0.1.0-0123456789ab.tar.gz",
        sha256: "ab".repeat(32),
        size: 1000,
      },
    ],
    ...overrides,
  };
  const text = JSON.stringify(manifest);
  return {
    manifest: text,
    signature: sign(null, Buffer.from(text), privateKey).toString("base64"),
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}
