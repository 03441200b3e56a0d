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
  packetDir,
} from "../../packets/index.ts";
import { defineRoute, FILE_BYTES, operatorApi, type Route } from "../registry.ts";
import { Packets, PacketWritten } from "./responses.ts";
import { TenantParams } from "./schemas.ts";
import { tenantRead } from "./views.ts";

const CreatePacket = z.strictObject({ month: Month });
const PacketFileParams = TenantParams.extend({ month: Month, file: z.enum(PACKET_FILES) });
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
    summary: "Generate (or regenerate) a tenant's packet for a month",
    auth: operatorApi("evidence"),
    params: TenantParams,
    body: CreatePacket,
    response: { status: 201, schema: PacketWritten },
    handler: async (c, { params, body: { month } }) => {
      const record = await requestPacket(s, c.get("adminActor"), params.tenant, month);
      return c.json({ month, generated_at: record.generatedAt, files: [...PACKET_FILES] }, 201);
    },
  });

  const file = defineRoute({
    method: "get",
    path: "/tenants/{tenant}/packets/{month}/{file}",
    operationId: "get_packet_file",
    summary: "One file of a packet (PDF, Markdown or its signed manifest)",
    auth: operatorApi("evidence"),
    params: PacketFileParams,
    response: { schema: FILE_BYTES, contentType: "application/octet-stream" },
    handler: async (_c, { params }) => {
      const packets = packetsConfig(s);
      const { tenant: tenantId, month, file } = params;
      const path = join(packetDir(packets.dir, tenantId, month), file);
      if (!existsSync(path)) throw new ControlPlaneError("not_found", "no such packet file");
      return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream, {
        headers: {
          "content-type": TYPES[file],
          "content-disposition": `attachment; filename="${tenantId}-${month}-${file}"`,
          "x-content-type-options": "nosniff",
        },
      });
    },
  });
  return [list, create, file];
}

function packetsConfig(s: Services) {
  if (!s.packets) throw new ControlPlaneError("unavailable", "packets are not configured");
  return s.packets;
}

/**
 * Generates (or regenerates) a tenant's packet for a month on an operator's request and audits
 * it under the operator's name: the API route and the dashboard's form both come here.
 */
export async function requestPacket(s: Services, actor: string, tenantId: string, month: string) {
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
    files: made.record.files,
    counts: made.record.counts,
  });
  return made.record;
}
