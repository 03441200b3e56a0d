import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Hono } from "hono";
import { z } from "zod";
import { isCodedError, TenantId } from "#protocol";
import type { AppEnv, Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import {
  generatePacket,
  listPackets,
  Month,
  PACKET_FILES,
  packetDir,
} from "../../packets/index.ts";
import { param, readBody } from "../request.ts";

const CreatePacket = z.strictObject({ month: Month });
const PacketFileName = z.enum(PACKET_FILES);
const TYPES: Record<(typeof PACKET_FILES)[number], string> = {
  "packet.pdf": "application/pdf",
  "packet.md": "text/markdown; charset=utf-8",
  "manifest.json": "application/json",
};

/**
 * Compliance packets under the admin and operator APIs (docs: control-plane/README.md). Client
 * input never becomes a path: the tenant is a DNS label, the month strictly YYYY-MM and the file
 * one of three fixed names.
 */
export function packetRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  const enabled = () => packetsConfig(s);

  app.get("/tenants/:tenant/packets", async (c) => {
    const tenantId = param(c, "tenant", TenantId);
    return c.json({ packets: await listPackets(s.store, tenantId) });
  });

  app.post("/tenants/:tenant/packets", async (c) => {
    const tenantId = param(c, "tenant", TenantId);
    const { month } = await readBody(c, CreatePacket);
    const record = await requestPacket(s, c.get("adminActor"), tenantId, month);
    return c.json({ month, generated_at: record.generatedAt, files: [...PACKET_FILES] }, 201);
  });

  app.get("/tenants/:tenant/packets/:month/:file", async (c) => {
    const packets = enabled();
    const tenantId = param(c, "tenant", TenantId);
    const month = param(c, "month", Month);
    const file = param(c, "file", PacketFileName) as (typeof PACKET_FILES)[number];
    const path = join(packetDir(packets.dir, tenantId, month), file);
    if (!existsSync(path)) throw new ControlPlaneError("not_found", "no such packet file");
    return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream, {
      headers: {
        "content-type": TYPES[file],
        "content-disposition": `attachment; filename="${tenantId}-${month}-${file}"`,
        "x-content-type-options": "nosniff",
      },
    });
  });
  return app;
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
    throw error;
  }
  await s.audit.record(actor, "packet.generated", tenantId, {
    month,
    files: made.record.files,
    counts: made.record.counts,
  });
  return made.record;
}
