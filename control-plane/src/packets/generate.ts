import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  canonicalize,
  isCodedError,
  publicKeyToPem,
  Sha256Hex,
  Signature,
  sha256Hex,
  signDocument,
  TenantId,
  Timestamp,
} from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { PacketRecord, Store } from "../store/index.ts";
import { packetBlocks } from "./document.ts";
import { type GatherDeps, gatherPacket, type PacketCounts, type PacketData } from "./gather.ts";
import { Month } from "./month.ts";
import { renderMarkdown } from "./render-md.ts";
import { renderPdf } from "./render-pdf.ts";

/** The only files a packet has; the API serves nothing else. */
export const PACKET_FILES = [
  "packet.pdf",
  "packet.md",
  "manifest.json",
  "control-plane.pub.pem",
] as const;
export type PacketFile = (typeof PACKET_FILES)[number];

export interface PacketDeps extends GatherDeps {
  /** The data directory's packets folder: packets/<tenant>/<YYYY-MM>/. */
  readonly packetsDir: string;
}

/**
 * Why a packet was regenerated, as an operator wrote it: one line of text (no control
 * characters, so the one-line manifest stays one line), required from version 2 on.
 */
export const PacketReason = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .regex(/^[^\p{Cc}]+$/u, "one line of text, no control characters");

/**
 * The signed manifest: integers, strings and null only, one line of canonical JSON, so cutting
 * out "sig" gives its RFC 8785 bytes and plain OpenSSL verifies it (docs/auditor.md). It names
 * its version and the SHA-256 of the previous version's manifest.json file, so the versions of a
 * month form a chain an auditor can walk back.
 */
const Count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export const PacketManifest = z.strictObject({
  v: z.literal(2),
  type: z.literal("packet_manifest"),
  tenant_id: TenantId,
  month: Month,
  version: z.int().min(1).max(1_000_000),
  previous_manifest_sha256: Sha256Hex.nullable(),
  reason: PacketReason.nullable(),
  generated_at: Timestamp,
  files: z
    .array(z.strictObject({ name: z.enum(PACKET_FILES), sha256: Sha256Hex, bytes: Count }))
    .max(PACKET_FILES.length),
  counts: z.strictObject({
    bundles: Count,
    check_results: Count,
    healing_attempts: Count,
    incidents: Count,
    decisions: Count,
  }) satisfies z.ZodType<PacketCounts>,
  sig: Signature,
});
export type PacketManifest = z.infer<typeof PacketManifest>;

/** Who asks for a packet and, for a regeneration, why. */
export interface PacketRequest {
  /** An operator's name, "cli", or "monthly-job". */
  readonly requestedBy: string;
  readonly reason?: string | null;
}

/** The folder of one version: packets/<tenant>/<YYYY-MM>/v<N>/. */
export function packetDir(
  packetsDir: string,
  tenantId: string,
  month: string,
  version: number,
): string {
  const monthDir = join(packetsDir, TenantId.parse(tenantId), Month.parse(month));
  if (!Number.isSafeInteger(version) || version < 1)
    throw new ControlPlaneError("internal", "a packet version is a positive integer");
  // A packet made before versions existed lives in the month's folder itself (version 1).
  const dir = join(monthDir, `v${version}`);
  if (version === 1 && !existsSync(dir) && existsSync(join(monthDir, "manifest.json")))
    return monthDir;
  return dir;
}

/** How often a regeneration that lost its version number to a concurrent one tries the next. */
const VERSION_TRIES = 20;

/**
 * Gathers, renders, signs and writes a new version of one packet; earlier versions are never
 * touched. The next version number is the latest plus one, and the store's key on (tenant, month,
 * version) lets only one of two concurrent regenerations take it: the loser renders again with
 * the next number and the winner's manifest hash, so the versions stay a gapless chain. Files
 * are written to a temporary folder, the version recorded, then the folder renamed into place.
 */
export async function generatePacket(
  deps: PacketDeps,
  tenantId: string,
  month: string,
  request: PacketRequest,
  /** Called with the fraction done (0..1): reading the evidence is most of it. */
  progress?: (fraction: number) => void,
): Promise<{ record: PacketRecord; manifest: PacketManifest; dir: string }> {
  if (!TenantId.safeParse(tenantId).success)
    throw new ControlPlaneError("unknown_tenant", "invalid tenant id");
  if (!Month.safeParse(month).success)
    throw new ControlPlaneError("invalid_month", "use a month such as 2026-11 (YYYY-MM)");
  const reason = request.reason == null ? null : parseReason(request.reason);
  let latest = await deps.store.getPacket(tenantId, month);
  needReason(latest, reason);
  const data = await gatherPacket(deps, tenantId, month, (f) => progress?.(0.95 * f));
  for (let attempt = 1; ; attempt++) {
    const version = (latest?.version ?? 0) + 1;
    const previousManifestSha256 = latest ? await manifestHash(deps.packetsDir, latest) : null;
    const written = await writeVersion(deps, data, { version, previousManifestSha256, reason });
    const record: PacketRecord = {
      tenantId,
      month,
      version,
      generatedAt: data.generatedAt,
      requestedBy: request.requestedBy,
      reason,
      manifestSha256: written.manifestSha256,
      previousManifestSha256,
      files: Object.fromEntries(written.manifest.files.map((f) => [f.name, f.sha256])),
      counts: { ...data.counts },
    };
    if (await deps.store.addPacketVersion(record)) {
      const dir = packetDir(deps.packetsDir, tenantId, month, version);
      await rename(written.temp, dir);
      progress?.(1);
      return { record, manifest: written.manifest, dir };
    }
    await rm(written.temp, { recursive: true, force: true });
    if (attempt >= VERSION_TRIES)
      throw new ControlPlaneError("conflict", "too many concurrent regenerations of this packet");
    latest = await deps.store.getPacket(tenantId, month);
    needReason(latest, reason);
  }
}

export function parseReason(reason: string): string {
  const parsed = PacketReason.safeParse(reason);
  if (!parsed.success)
    throw new ControlPlaneError(
      "invalid_request",
      `reason: ${parsed.error.issues[0]?.message ?? "invalid"}`,
    );
  return parsed.data;
}

/** A packet is immutable: making another version of a month needs a stated reason. */
export function needReason(latest: PacketRecord | undefined, reason: string | null): void {
  if (latest && reason === null)
    throw new ControlPlaneError(
      "invalid_request",
      `reason: required, version ${latest.version} of this packet exists and is kept; say why version ${latest.version + 1} is made`,
    );
}

/** The recorded manifest hash; for a packet made before versions, the hash of its file. */
async function manifestHash(packetsDir: string, record: PacketRecord): Promise<string> {
  if (record.manifestSha256) return record.manifestSha256;
  const dir = packetDir(packetsDir, record.tenantId, record.month, record.version);
  return sha256Hex(await readFile(join(dir, "manifest.json")));
}

/** Renders and signs one version into a new temporary folder beside the month's versions. */
async function writeVersion(
  deps: PacketDeps,
  data: PacketData,
  edition: NonNullable<PacketData["edition"]>,
): Promise<{ temp: string; manifest: PacketManifest; manifestSha256: string }> {
  const { tenantId, month } = data;
  const blocks = packetBlocks({ ...data, edition, controlPlaneKeyId: deps.signer.keyId });
  const md = new TextEncoder().encode(renderMarkdown(blocks));
  const pdf = await renderPdf(blocks, {
    title: `Compliance packet ${tenantId} ${month} version ${edition.version}`,
    date: new Date(data.generatedAt),
    header: `HIPAA compliance packet | ${tenantId} | ${month}${data.period.partial ? " (partial)" : ""} | version ${edition.version}`,
    mark: data.archiveKind === "s3" ? null : "LAB / NOT WORM",
  });
  const files = [
    { name: "packet.md" as const, bytes: md },
    { name: "packet.pdf" as const, bytes: pdf },
  ];
  const manifest = signDocument<PacketManifest>(
    PacketManifest,
    {
      v: 2,
      type: "packet_manifest",
      tenant_id: tenantId,
      month,
      version: edition.version,
      previous_manifest_sha256: edition.previousManifestSha256,
      reason: edition.reason,
      generated_at: data.generatedAt,
      files: files.map((f) => ({
        name: f.name,
        sha256: sha256Hex(f.bytes),
        bytes: f.bytes.length,
      })),
      counts: data.counts,
    },
    deps.signer,
  );
  // Canonical JSON on one line: cutting out "sig" with sed gives the signed bytes.
  const manifestBytes = Buffer.from(`${canonicalize(manifest)}\n`, "utf8");
  const parent = join(deps.packetsDir, tenantId, month);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const temp = join(parent, `.v${edition.version}.new-${randomBytes(6).toString("hex")}`);
  await mkdir(temp, { mode: 0o700 });
  try {
    for (const f of files) await writeFile(join(temp, f.name), f.bytes, { mode: 0o600 });
    await writeFile(join(temp, "manifest.json"), manifestBytes, { mode: 0o600 });
    await writeFile(join(temp, "control-plane.pub.pem"), publicKeyToPem(deps.signer.publicKey), {
      mode: 0o600,
    });
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return { temp, manifest, manifestSha256: sha256Hex(manifestBytes) };
}

/** Every version of a tenant's packets for the dashboard and the API: newest month, then version. */
export async function listPackets(store: Store, tenantId: string) {
  return (await store.listPackets(tenantId)).map((p) => ({
    month: p.month,
    version: p.version,
    generated_at: p.generatedAt,
    requested_by: p.requestedBy,
    reason: p.reason,
    manifest_sha256: p.manifestSha256,
    previous_manifest_sha256: p.previousManifestSha256,
    files: [...PACKET_FILES],
    counts: p.counts,
  }));
}

/**
 * The first-of-month job, one pass: last month's packet for every tenant that has none yet
 * (idempotent, so a scheduler may call it as often as it likes; a cross-instance lease can wrap
 * it later). It never makes a second version: an operator who raced it keeps theirs. Returns the
 * tenants it generated for.
 */
export async function runMonthlyPackets(
  deps: PacketDeps & { readonly tenants: () => Promise<readonly string[]> },
  month: string,
): Promise<string[]> {
  const made: string[] = [];
  for (const tenantId of await deps.tenants()) {
    if (await deps.store.getPacket(tenantId, month)) continue;
    try {
      await generatePacket(deps, tenantId, month, { requestedBy: "monthly-job" });
    } catch (error) {
      if (isCodedError(error, "invalid_request") && (await deps.store.getPacket(tenantId, month)))
        continue;
      throw error;
    }
    made.push(tenantId);
  }
  return made;
}
