import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Hono } from "hono";
import { z } from "zod";
import { EXPORT_FILES, ExportRangeBasis, Timestamp } from "#protocol";
import type { AppEnv, Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { writeExport } from "../../vault/export.ts";
import { param, readBody } from "../request.ts";
import { applianceOf } from "./index.ts";

/** `basis`: the range by the time the control plane received the bundles (default) or recorded. */
const CreateExport = z.strictObject({
  from: Timestamp,
  to: Timestamp,
  basis: ExportRangeBasis.optional(),
});
/** Export ids are made here, never taken from a client path: <UTC stamp>-<16 hex>. */
const ExportId = z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{16}$/, "not an export id");
const FILE_NAMES: readonly string[] = Object.values(EXPORT_FILES);
const ExportFile = z.string().refine((f) => FILE_NAMES.includes(f), "not an export file");

/**
 * Evidence exports for an auditor, under the admin and operator APIs: POST writes one into the
 * data directory's exports folder (a name the server makes up), GET fetches its fixed files.
 * Client input never becomes a path: ids and file names are checked against closed patterns.
 */
export function exportRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  const enabled = () => {
    if (!s.vault || !s.exportsDir) throw new ControlPlaneError("unavailable", "no evidence vault");
    return { vault: s.vault, dir: s.exportsDir };
  };

  app.post("/tenants/:tenant/appliances/:appliance/exports", async (c) => {
    const { vault, dir } = enabled();
    const a = await applianceOf(c, s);
    const body = await readBody(c, CreateExport);
    const now = s.now();
    const stamp = now
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const id = `${stamp}-${randomBytes(8).toString("hex")}`;
    const parent = join(dir, a.tenantId, a.applianceId);
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    const manifest = await writeExport(
      {
        store: s.store,
        vault,
        signer: s.signer,
        archiveKind: s.archiveKind ?? "unknown",
        now: s.now,
      },
      {
        tenantId: a.tenantId,
        applianceId: a.applianceId,
        from: body.from,
        to: body.to,
        ...(body.basis ? { basis: body.basis } : {}),
        directory: join(parent, id),
      },
    );
    await s.audit.record(
      c.get("adminActor"),
      "evidence.exported",
      `${a.tenantId}/${a.applianceId}`,
      {
        export_id: id,
        from: body.from,
        to: body.to,
        first_seq: manifest.first_seq,
        last_seq: manifest.last_seq,
      },
    );
    return c.json({ export_id: id, files: FILE_NAMES, manifest }, 201);
  });

  app.get("/tenants/:tenant/appliances/:appliance/exports/:id/:file", async (c) => {
    const { dir } = enabled();
    const a = await applianceOf(c, s);
    const id = param(c, "id", ExportId);
    const file = param(c, "file", ExportFile);
    const path = join(dir, a.tenantId, a.applianceId, id, file);
    if (!existsSync(path)) throw new ControlPlaneError("not_found", "no such export file");
    const type = file.endsWith(".pem")
      ? "application/x-pem-file"
      : file.endsWith(".jsonl")
        ? "application/x-ndjson"
        : "application/json";
    return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream, {
      headers: { "content-type": type },
    });
  });
  return app;
}
