import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { z } from "zod";
import { EXPORT_FILES, ExportRangeBasis, Timestamp } from "#protocol";
import { checkWindow } from "../../access/check.ts";
import type { Services } from "../../env.ts";
import { ControlPlaneError } from "../../errors.ts";
import { writeExport } from "../../vault/export.ts";
import { defineRoute, FILE_BYTES, operatorApi, type Route } from "../registry.ts";
import { ExportWritten } from "./responses.ts";
import { ApplianceParams } from "./schemas.ts";
import { findAppliance } from "./views.ts";

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
const ExportFileParams = ApplianceParams.extend({ id: ExportId, file: ExportFile });

/** The [from, to) an export was requested for, from its manifest (missing: an empty range). */
function requestedRange(folder: string): { from: string; to: string } {
  try {
    const m = JSON.parse(readFileSync(join(folder, EXPORT_FILES.manifest), "utf8")) as Record<
      string,
      unknown
    >;
    const [from, to] = [m.requested_from, m.requested_to];
    if (typeof from === "string" && typeof to === "string") return { from, to };
  } catch {}
  return { from: "", to: "" };
}

/**
 * Evidence exports for an auditor, under the admin and operator APIs: POST writes one into the
 * data directory's exports folder (a name the server makes up), GET fetches its fixed files.
 * Client input never becomes a path: ids and file names are checked against closed patterns.
 */
export function exportRoutes(s: Services): Route[] {
  const enabled = () => {
    if (!s.vault || !s.exportsDir) throw new ControlPlaneError("unavailable", "no evidence vault");
    return { vault: s.vault, dir: s.exportsDir };
  };

  const create = defineRoute({
    method: "post",
    path: "/tenants/{tenant}/appliances/{appliance}/exports",
    operationId: "create_export",
    summary: "Write an evidence export for an auditor (a window of the chain)",
    auth: operatorApi("evidence"),
    params: ApplianceParams,
    body: CreateExport,
    response: { status: 201, schema: ExportWritten },
    handler: async (c, { params, body }) => {
      const { vault, dir } = enabled();
      const a = await findAppliance(s, params);
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
    },
  });

  const file = defineRoute({
    method: "get",
    path: "/tenants/{tenant}/appliances/{appliance}/exports/{id}/{file}",
    operationId: "get_export_file",
    summary: "One file of an evidence export",
    auth: operatorApi("evidence"),
    params: ExportFileParams,
    response: { schema: FILE_BYTES, contentType: "application/octet-stream" },
    handler: async (c, { params }) => {
      const { dir } = enabled();
      const a = await findAppliance(s, params);
      const { id, file } = params;
      const folder = join(dir, a.tenantId, a.applianceId, id);
      const path = join(folder, file);
      if (!existsSync(path)) throw new ControlPlaneError("not_found", "no such export file");
      // An auditor reads an export only if the range it was made for lies inside its window:
      // the path names no dates, so the window is checked against the export's own manifest.
      const principal = c.get("principal");
      if (principal.scope.window) {
        const denial = checkWindow(principal.scope, requestedRange(folder));
        if (denial) {
          await s.audit.record(principal.actor, "access.denied", "get_export_file", {
            reason: denial.reason,
            path: c.req.path,
          });
          throw new ControlPlaneError("not_found", "not found");
        }
      }
      const type = file.endsWith(".pem")
        ? "application/x-pem-file"
        : file.endsWith(".jsonl")
          ? "application/x-ndjson"
          : "application/json";
      return new Response(Readable.toWeb(createReadStream(path)) as ReadableStream, {
        headers: { "content-type": type },
      });
    },
  });
  return [create, file];
}
