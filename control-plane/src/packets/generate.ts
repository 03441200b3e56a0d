import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  canonicalize,
  publicKeyToPem,
  Sha256Hex,
  Signature,
  type Signer,
  sha256Hex,
  signDocument,
  TenantId,
  Timestamp,
} from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { PacketRecord, Store } from "../store/index.ts";
import { packetBlocks } from "./document.ts";
import { type GatherDeps, gatherPacket, type PacketCounts } from "./gather.ts";
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
  readonly signer: Signer;
  /** The data directory's packets folder: packets/<tenant>/<YYYY-MM>/. */
  readonly packetsDir: string;
}

/**
 * The signed manifest: integers and ASCII strings only, so `jq -cjS 'del(.sig)'` reproduces its
 * RFC 8785 canonical bytes and plain OpenSSL verifies it (docs/auditor.md).
 */
const Count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
export const PacketManifest = z.strictObject({
  v: z.literal(1),
  type: z.literal("packet_manifest"),
  tenant_id: TenantId,
  month: Month,
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

export function packetDir(packetsDir: string, tenantId: string, month: string): string {
  return join(packetsDir, TenantId.parse(tenantId), Month.parse(month));
}

/**
 * Gathers, renders, signs and writes one packet. The files go to a temporary folder beside the
 * target and are renamed into place, so a reader sees the previous packet or the whole new one,
 * never a half-written file. The Store record follows the files.
 */
export async function generatePacket(
  deps: PacketDeps,
  tenantId: string,
  month: string,
): Promise<{ record: PacketRecord; manifest: PacketManifest; dir: string }> {
  if (!TenantId.safeParse(tenantId).success)
    throw new ControlPlaneError("unknown_tenant", "invalid tenant id");
  if (!Month.safeParse(month).success)
    throw new ControlPlaneError("invalid_month", "use a month such as 2026-11 (YYYY-MM)");
  const data = await gatherPacket(deps, tenantId, month);
  const blocks = packetBlocks({ ...data, controlPlaneKeyId: deps.signer.keyId });
  const md = new TextEncoder().encode(renderMarkdown(blocks));
  const pdf = await renderPdf(blocks, {
    title: `Compliance packet ${tenantId} ${month}`,
    date: new Date(data.generatedAt),
    header: `HIPAA compliance packet | ${tenantId} | ${month}${data.period.partial ? " (partial)" : ""}`,
    mark: data.archiveKind === "s3" ? null : "LAB / NOT WORM",
  });
  const files = [
    { name: "packet.md" as const, bytes: md },
    { name: "packet.pdf" as const, bytes: pdf },
  ];
  const manifest = signDocument<PacketManifest>(
    PacketManifest,
    {
      v: 1,
      type: "packet_manifest",
      tenant_id: tenantId,
      month,
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

  const dir = packetDir(deps.packetsDir, tenantId, month);
  const parent = join(dir, "..");
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const suffix = randomBytes(6).toString("hex");
  const temp = join(parent, `.${month}.new-${suffix}`);
  await mkdir(temp, { mode: 0o700 });
  try {
    for (const f of files) await writeFile(join(temp, f.name), f.bytes, { mode: 0o600 });
    // Canonical JSON on one line: cutting out "sig" with sed gives the signed bytes.
    await writeFile(join(temp, "manifest.json"), `${canonicalize(manifest)}\n`, { mode: 0o600 });
    await writeFile(join(temp, "control-plane.pub.pem"), publicKeyToPem(deps.signer.publicKey), {
      mode: 0o600,
    });
    // A regeneration: move the old packet aside, the new one in, then drop the old.
    const old = join(parent, `.${month}.old-${suffix}`);
    const replacing = existsSync(dir);
    if (replacing) await rename(dir, old);
    await rename(temp, dir);
    if (replacing) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  const record: PacketRecord = {
    tenantId,
    month,
    generatedAt: data.generatedAt,
    files: Object.fromEntries(manifest.files.map((f) => [f.name, f.sha256])),
    counts: { ...data.counts },
  };
  await deps.store.putPacket(record);
  return { record, manifest, dir };
}

/** The packets of a tenant for the dashboard and the API, newest month first. */
export async function listPackets(store: Store, tenantId: string) {
  return (await store.listPackets(tenantId)).map((p) => ({
    month: p.month,
    generated_at: p.generatedAt,
    files: [...PACKET_FILES],
    counts: p.counts,
  }));
}

/**
 * The first-of-month job, one pass: last month's packet for every tenant that has none yet
 * (idempotent, so a scheduler may call it as often as it likes; a cross-instance lease can wrap
 * it later). Returns the tenants it generated for.
 */
export async function runMonthlyPackets(
  deps: PacketDeps & { readonly tenants: () => Promise<readonly string[]> },
  month: string,
): Promise<string[]> {
  const made: string[] = [];
  for (const tenantId of await deps.tenants()) {
    if (await deps.store.getPacket(tenantId, month)) continue;
    await generatePacket(deps, tenantId, month);
    made.push(tenantId);
  }
  return made;
}
