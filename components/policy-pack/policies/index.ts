import { evidenceEncryption } from "./evidence-encryption.ts";
import { evidenceObjectLockAttached } from "./evidence-object-lock-attached.ts";
import { evidenceObjectLockCompliance } from "./evidence-object-lock-compliance.ts";
import { evidencePublicAccessBlocked } from "./evidence-public-access-blocked.ts";
import { evidenceTlsOnly } from "./evidence-tls-only.ts";
import { evidenceVersioning } from "./evidence-versioning.ts";
import { tlsKeyStrength } from "./tls-key-strength.ts";
import type { MspPolicy } from "./types.ts";
import { writerNeverDeletes } from "./writer-never-deletes.ts";

/** The registry: one module per policy, sorted by name (a test holds it equal to the folder). */
export const POLICIES: readonly MspPolicy[] = [
  evidenceEncryption,
  evidenceObjectLockAttached,
  evidenceObjectLockCompliance,
  evidencePublicAccessBlocked,
  evidenceTlsOnly,
  evidenceVersioning,
  tlsKeyStrength,
  writerNeverDeletes,
];
