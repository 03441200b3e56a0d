import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { z } from "zod";
import { isCodedError } from "#protocol";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import {
  generatePacket,
  listPackets,
  Month,
  PACKET_FILES,
  type PacketFile,
  PacketReason,
  packetDir,
} from "../../packets/index.ts";
import { defineRoute, FILE_BYTES, operatorApi, type Route } from "../registry.ts";
import { Packets, PacketWritten } from "./responses.ts";
import { TenantParams } from "./schemas.ts";
import { tenantRead } from "./views.ts";

const CreatePacket = z.strictObject({ month: Month, reason: PacketReason.optional() });
const PacketFileParams = TenantParams.extend({ month: Month, file: z.enum(PACKET_FILES) });
const VersionFileParams = PacketFileParams.extend({
  version: z.string().regex(/^[1-9][0-9]{0,5}$/, "a version number such as 2"),
});
const TYPES: Record<(typeof PACKET_FILES)[number], string> = {
  "packet.pdf": "application/pdf",
  "packet.md": "text/markdown; charset=utf-8",
  "manifest.json": "application/json",
  "control-plane.pub.pem": "application/x-pem-file",
};

/**
 * Compliance packets under the admin and operator APIs (docs: control-plane/README.md). Client
 * input never becomes a path: the tenant is a DNS label, the month strictly YYYY-MM and the file
 * one of four fixed names.
 */
export function packetRoutes(s: Services): Route[] {
  const list = tenantRead(
    "/packets",
    "list_packets",
    "A tenant's compliance packets",
    Packets,
    async (t) => ({
      packets: await listPackets(s.store, t),
    }),
    "evidence",
  );

  const create = defineRoute({
    method: "post",
    path: "/tenants/{tenant}/packets",
    operationId: "create_packet",
    summary:
      "Generate a tenant's packet for a month; again makes the next version (reason required)",
    auth: operatorApi("evidence"),
    params: TenantParams,
    body: CreatePacket,
    response: { status: 201, schema: PacketWritten },
    handler: async (c, { params, body: { month, reason } }) => {
      const record = await requestPacket(s, c.get("adminActor"), params.tenant, month, reason);
      return c.json(
        {
          month,
          version: record.version,
          generated_at: record.generatedAt,
          reason: record.reason,
          manifest_sha256: record.manifestSha256,
          previous_manifest_sha256: record.previousManifestSha256,
          files: [...PACKET_FILES],
        },
        201,
      );
    },
  });

  const serveFile = async (tenantId: string, month: string, file: PacketFile, version?: number) => {
    const packets = packetsConfig(s);
    const record = await s.store.getPacket(tenantId, month, version);
    if (!record) throw new ControlPlaneError("not_found", "no such packet");
    const path = join(packetDir(packets.dir, tenantId, month, record.version), file);
    if (!existsSync(path)) throw new ControlPlaneError("not_found", "no such packet file");
    return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream, {
      headers: {
        "content-type": TYPES[file],
        "content-disposition": `attachment; filename="${tenantId}-${month}-v${record.version}-${file}"`,
        "x-content-type-options": "nosniff",
      },
    });
  };

  const file = defineRoute({
    method: "get",
    path: "/tenants/{tenant}/packets/{month}/{file}",
    operationId: "get_packet_file",
    summary: "One file of a packet's latest version (PDF, Markdown or its signed manifest)",
    auth: operatorApi("evidence"),
    params: PacketFileParams,
    response: { schema: FILE_BYTES, contentType: "application/octet-stream" },
    handler: (_c, { params }) => serveFile(params.tenant, params.month, params.file),
  });

  const versionFile = defineRoute({
    method: "get",
    path: "/tenants/{tenant}/packets/{month}/versions/{version}/{file}",
    operationId: "get_packet_version_file",
    summary: "One file of one version of a packet; every version is kept",
    auth: operatorApi("evidence"),
    params: VersionFileParams,
    response: { schema: FILE_BYTES, contentType: "application/octet-stream" },
    handler: (_c, { params }) =>
      serveFile(params.tenant, params.month, params.file, Number(params.version)),
  });
  return [list, create, file, versionFile];
}

function packetsConfig(s: Services) {
  if (!s.packets) throw new ControlPlaneError("unavailable", "packets are not configured");
  return s.packets;
}

/**
 * Generates a tenant's packet for a month (the next version, with its reason, if one exists) on
 * an operator's request and audits it under the operator's name: the API route and the
 * dashboard's form both come here.
 */
export async function requestPacket(
  s: Services,
  actor: string,
  tenantId: string,
  month: string,
  reason?: string,
) {
  const packets = packetsConfig(s);
  let made: Awaited<ReturnType<typeof generatePacket>>;
  try {
    made = await generatePacket(
      {
        store: s.store,
        signer: s.signer,
        catalogDir: packets.catalogDir,
        packetsDir: packets.dir,
        archiveKind: s.archiveKind ?? "unknown",
        now: s.now,
      },
      tenantId,
      month,
      { requestedBy: actor, reason: reason ?? null },
    );
  } catch (error) {
    if (isCodedError(error, "unknown_tenant"))
      throw new ControlPlaneError("not_found", "no such tenant");
    if (isCodedError(error, "invalid_month"))
      throw new ControlPlaneError("invalid_request", error.message);
    throw error;
  }
  await s.audit.record(actor, "packet.generated", tenantId, {
    month,
    version: made.record.version,
    reason: made.record.reason,
    files: made.record.files,
    counts: made.record.counts,
  });
  return made.record;
}
