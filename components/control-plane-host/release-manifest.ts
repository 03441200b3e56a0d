import { createPublicKey, verify } from "node:crypto";
import { z } from "zod";
import { ComponentArgsError } from "../errors.ts";

/**
 * The release manifest `npm run release` writes and signs: compact JSON (no trailing newline,
 * so `"$(cat manifest.json)"` hands over the signed bytes exactly), listing each artifact with
 * its SHA-256 and its CycloneDX SBOM. The central stack takes the manifest, its Ed25519
 * signature and the release public key; the program verifies them before any resource, and
 * cloud-init verifies them again on the server before installing.
 */
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex digits");
const FileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, "expected a plain file name");

export const ReleaseArtifact = z.strictObject({
  name: z.enum(["agent", "control-plane", "nix-inputs"]),
  file: FileName,
  sha256: Sha256,
  size: z.int().min(0),
  sbom: FileName.optional(),
  sbomSha256: Sha256.optional(),
});

export const ReleaseManifest = z.strictObject({
  schema: z.literal("msp-release/1"),
  version: z
    .string()
    .regex(/^\d+\.\d+\.\d+\+[0-9a-f]{12}$/, "expected <semver>+<12 hex of the commit>"),
  commit: z.string().regex(/^[0-9a-f]{40}$/),
  sourceDateEpoch: z.int().min(0),
  platform: z.literal("linux-x64"),
  node: z.string().regex(/^\d+\.\d+\.\d+$/),
  artifacts: z.array(ReleaseArtifact).min(1),
});
export type ReleaseManifest = z.infer<typeof ReleaseManifest>;

/** Which artifact cloud-init installs. */
export const CONTROL_PLANE_ARTIFACT = "control-plane";

/** The raw-key check both sides agree on: an Ed25519 public key in PEM (SPKI). */
export function releasePublicKey(pem: string) {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new ComponentArgsError(
      "invalid_release",
      "the release public key is not a PEM public key",
      { cause },
    );
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ComponentArgsError(
      "invalid_release",
      `the release public key is ${key.asymmetricKeyType}, expected ed25519`,
    );
  }
  return key;
}

/**
 * Verifies the manifest's signature (Ed25519 over the exact manifest bytes), then parses it
 * and returns the control-plane artifact. Fails closed with what is wrong.
 */
export function verifyReleaseManifest(
  manifestText: string,
  signatureBase64: string,
  publicKeyPem: string,
): { manifest: ReleaseManifest; controlPlane: z.infer<typeof ReleaseArtifact> } {
  const key = releasePublicKey(publicKeyPem);
  const signature = Buffer.from(signatureBase64, "base64");
  if (signature.length !== 64 || signature.toString("base64") !== signatureBase64.trim()) {
    throw new ComponentArgsError(
      "invalid_release",
      "the release signature must be 64 bytes in base64",
    );
  }
  if (!verify(null, Buffer.from(manifestText, "utf8"), key, signature)) {
    throw new ComponentArgsError(
      "invalid_release",
      "the release signature does not verify: manifest, signature and release key do not belong together",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(manifestText);
  } catch (cause) {
    throw new ComponentArgsError("invalid_release", "the release manifest is not JSON", { cause });
  }
  const parsed = ReleaseManifest.safeParse(json);
  if (!parsed.success) {
    throw new ComponentArgsError(
      "invalid_release",
      `the release manifest: ${z.prettifyError(parsed.error)}`,
    );
  }
  const controlPlane = parsed.data.artifacts.find((a) => a.name === CONTROL_PLANE_ARTIFACT);
  if (!controlPlane)
    throw new ComponentArgsError(
      "invalid_release",
      "the release manifest lists no control-plane artifact",
    );
  return { manifest: parsed.data, controlPlane };
}
