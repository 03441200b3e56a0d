import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  EXPORT_FILES,
  ExportManifest,
  publicKeyFromPem,
  type VerificationKey,
  verificationKey,
  verifyDocument,
} from "../../protocol/index.ts";
import { applianceKeyPins, type Pins } from "../pins.ts";
import { type ExportFailure, failed, parseExportJson, passed, type StepResult } from "../result.ts";

export type PinState = "pinned" | "unpinned";

export interface ManifestStep {
  readonly manifest: ExportManifest;
  readonly controlPlaneKey: VerificationKey;
  readonly applianceKey: VerificationKey & { readonly pem: string };
  readonly pins: { readonly control_plane: PinState; readonly appliance: PinState };
}

/** Reads a file of the export, or the `missing_file` failure. */
export function readExportFile(directory: string, name: string): StepResult<string> {
  try {
    return passed(readFileSync(join(directory, name), "utf8"));
  } catch {
    return failed({ reason: "missing_file", detail: `${name} cannot be read`, file: name });
  }
}

function loadKey(pem: string, file: string): StepResult<VerificationKey> {
  try {
    return passed(verificationKey(publicKeyFromPem(pem)));
  } catch (error) {
    return failed({
      reason: "key_mismatch",
      detail: `not a usable Ed25519 public key: ${(error as Error).message}`,
      file,
    });
  }
}

/**
 * Step 1: the manifest (strict schema), the two public keys shipped beside it and their ids
 * against the manifest's, the auditor's pins (a key that is not the pinned one fails here, before
 * anything it signed is looked at), and the manifest's signature by the control-plane key.
 */
export function verifyManifest(directory: string, pins: Pins): StepResult<ManifestStep> {
  const M = EXPORT_FILES.manifest;
  const text = readExportFile(directory, M);
  if (!text.ok) return text;
  const parsed = parseExportJson(ExportManifest, text.value, "manifest_malformed", { file: M });
  if (!parsed.ok) return parsed;
  const manifest = parsed.value;

  const cpPem = readExportFile(directory, EXPORT_FILES.controlPlaneKey);
  if (!cpPem.ok) return cpPem;
  const cpKey = loadKey(cpPem.value, EXPORT_FILES.controlPlaneKey);
  if (!cpKey.ok) return cpKey;
  const appliancePem = readExportFile(directory, EXPORT_FILES.applianceKey);
  if (!appliancePem.ok) return appliancePem;
  const applianceKey = loadKey(appliancePem.value, EXPORT_FILES.applianceKey);
  if (!applianceKey.ok) return applianceKey;

  const mismatch = (detail: string, file: string): StepResult<never> =>
    failed({ reason: "key_mismatch", detail, file } satisfies ExportFailure);
  if (cpKey.value.keyId !== manifest.control_plane_key_id) {
    return mismatch("control-plane key differs from the manifest's", M);
  }
  if (applianceKey.value.keyId !== manifest.appliance_key_id) {
    return mismatch("appliance key differs from the manifest's", M);
  }

  const cpPins = pins.controlPlaneKeyIds;
  if (cpPins.length > 0 && !cpPins.includes(cpKey.value.keyId)) {
    return failed({
      reason: "pin_mismatch",
      detail: `control-plane key id ${cpKey.value.keyId} is not the pinned ${cpPins.join(" or ")}`,
      file: EXPORT_FILES.controlPlaneKey,
    });
  }
  const appPins = applianceKeyPins(pins, manifest.tenant_id, manifest.appliance_id);
  if (appPins.length > 0 && !appPins.includes(applianceKey.value.keyId)) {
    return failed({
      reason: "pin_mismatch",
      detail: `appliance key id ${applianceKey.value.keyId} is not the pinned ${appPins.join(" or ")}`,
      file: EXPORT_FILES.applianceKey,
    });
  }

  if (!verifyDocument(manifest, cpKey.value)) {
    return failed({
      reason: "manifest_bad_signature",
      detail: "not signed by the control-plane key",
      file: M,
    });
  }
  return passed({
    manifest,
    controlPlaneKey: cpKey.value,
    applianceKey: { ...applianceKey.value, pem: appliancePem.value },
    pins: {
      control_plane: cpPins.length > 0 ? "pinned" : "unpinned",
      appliance: appPins.length > 0 ? "pinned" : "unpinned",
    },
  });
}
