import { z } from "zod";

/**
 * Building blocks shared by every wire message. All messages are strict objects: an unknown
 * field is an error, never silently dropped, so a signed message means exactly what it says.
 */
export const PROTOCOL_VERSION = 1;
export const ProtocolVersion = z.literal(PROTOCOL_VERSION);

/** DNS-label shaped, because tenant ids appear in DNS names, bucket names and queue subjects. */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const TenantId = z
  .string()
  .regex(DNS_LABEL, "use 1-63 lower-case letters, digits and inner hyphens");
export const ApplianceId = z
  .string()
  .regex(DNS_LABEL, "use 1-63 lower-case letters, digits and inner hyphens");

/** Drift check ids are kebab-case words: "patching", "services", "backups". */
export const CheckId = z
  .string()
  .regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/, "use kebab-case, for example backups")
  .max(64);

/** Runbook ids: RB-<AREA>-<NNN>-<name>, for example RB-BACKUP-001-failure. */
export const RunbookId = z
  .string()
  .regex(/^RB-[A-Z]+-\d{3}-[a-z0-9]+(?:-[a-z0-9]+)*$/, "use RB-<AREA>-<NNN>-<name>")
  .max(80);

export const Uuid = z.uuid();
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex digits");

/** A 32-byte random value in unpadded base64url: 43 characters. */
export const Nonce = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "expected 32 bytes as base64url");

/** RFC 3339 UTC timestamps with a "Z" offset; fractional seconds allowed. */
export const Timestamp = z.iso.datetime({ offset: false });

export const SequenceNumber = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
export const SequenceCount = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Raw 32-byte Ed25519 public key, canonical standard base64: 44 characters, the last data
 * character with its two unused bits zero (RFC 4648 §3.5), so each key has one spelling.
 */
export const Ed25519PublicKeyBase64 = z
  .string()
  .regex(
    /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/,
    "expected a raw 32-byte Ed25519 public key in base64",
  );

export const Signature = z.strictObject({
  alg: z.literal("Ed25519"),
  /** Hex SHA-256 of the signer's raw public key. */
  key_id: Sha256Hex,
  /** The 64-byte signature, canonical standard base64 with padding: 88 characters. */
  value: z.string().regex(/^[A-Za-z0-9+/]{85}[AQgw]==$/, "expected a 64-byte signature in base64"),
});
export type Signature = z.infer<typeof Signature>;

export const Severity = z.enum(["low", "medium", "high", "critical"]);
export type Severity = z.infer<typeof Severity>;

/** Healing tiers: L1 deterministic rule, L2 LLM choosing a runbook, L3 a human. */
export const Tier = z.enum(["L1", "L2", "L3"]);
export type Tier = z.infer<typeof Tier>;

/**
 * A finding of a drift check: what was expected and what was seen. Only system state,
 * names of units and files, and hashes; never log lines or file contents (no PHI).
 */
export const Scalar = z.union([z.string().max(512), z.number(), z.boolean(), z.null()]);
export const Finding = z.strictObject({
  code: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, "use snake_case, for example unit_inactive")
    .max(64),
  subject: z.string().max(256).optional(),
  expected: Scalar.optional(),
  observed: Scalar.optional(),
  message: z.string().max(500).optional(),
});
export type Finding = z.infer<typeof Finding>;

/** Runbook parameters are flat typed scalars validated against the runbook's own schema. */
export const ParamName = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, "use snake_case names")
  .max(64);
export const OrderParams = z
  .unknown()
  // zod's record drops an own "__proto__" key without checking its name, so the parsed params
  // would differ from the signed ones: refuse it as malformed instead of as a bad signature.
  .refine(
    (params) =>
      typeof params !== "object" || params === null || !Object.hasOwn(params, "__proto__"),
    "a parameter may not be named __proto__",
  )
  .pipe(
    z
      .record(ParamName, z.union([z.string().max(256), z.number(), z.boolean()]))
      .refine((params) => Object.keys(params).length <= 32, "at most 32 parameters"),
  );

export const ChainHead = z.strictObject({ seq: SequenceCount, hash: Sha256Hex });
export type ChainHead = z.infer<typeof ChainHead>;
