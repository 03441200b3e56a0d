#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Sha256Hex, Timestamp } from "../protocol/index.ts";
import { mergePins, type Pins, parsePinsFile } from "./pins.ts";
import { type ExportSummary, verifyExport } from "./verify-export.ts";

/**
 * `verify-export DIR [pins] [--as-of T] [--json] [--workers N]`: the auditor's offline verifier.
 * It needs only this folder and protocol/ (no control plane, no network). Pins are the auditor's
 * own record of the key ids (docs/auditor.md): without pins for both keys the first line says
 * UNPINNED and the exit code is 1 unless --allow-unpinned is given. Exit codes: 0 the export
 * verifies against the pins, 1 it does not (the first failure is printed with its reason), 2
 * usage error.
 */
const USAGE = `usage: verify-export DIR [--appliance-key-id HEX]... [--control-plane-key-id HEX]...
                     [--pins FILE] [--allow-unpinned] [--as-of TIME] [--json] [--workers N]`;

function describe(s: ExportSummary): string {
  const lines: string[] = [];
  const unpinned = [
    s.pins.control_plane === "unpinned" ? "control-plane key" : undefined,
    s.pins.appliance === "unpinned" ? "appliance key" : undefined,
  ].filter(Boolean);
  if (unpinned.length > 0) {
    lines.push(
      `UNPINNED: no pin for the ${unpinned.join(" or the ")}; this export is checked only against keys it carries itself`,
    );
  }
  const pinned = (state: string) => (state === "pinned" ? "matches the pin" : "NOT PINNED");
  const basis =
    s.range_basis === "recorded_at"
      ? "recorded (appliance clock)"
      : "received (control-plane clock)";
  lines.push(
    `evidence export ${s.tenant_id ?? "?"}/${s.appliance_id ?? "?"}` +
      (s.seq_range ? `, bundles ${s.seq_range[0]}..${s.seq_range[1]}` : ""),
    ...(s.requested_range
      ? [`  date range ${s.requested_range[0]} .. ${s.requested_range[1]}, by time ${basis}`]
      : []),
    `  control-plane key id ${s.control_plane_key_id ?? "?"} (${pinned(s.pins.control_plane)})`,
    `  appliance key id     ${s.appliance_key_id ?? "?"} (${pinned(s.pins.appliance)})`,
    `  bundles read ${s.bundles}; signatures verified ${s.signatures_verified}; chain links verified ${s.chain_links_verified}; enrollment statement ${s.enrollment_statement_verified ? "verified" : "not in range"}`,
    `  checkpoints ${s.checkpoints}; verified ${s.checkpoints_verified} (roots recomputed ${s.roots_recomputed}, consistency proofs ${s.consistency_proofs_verified}, inclusion proofs ${s.inclusion_proofs_verified})`,
    `  checkpoints the appliance recorded as verified, matched: ${s.appliance_seen_checkpoints_matched}; witness cosignatures verified ${s.cosignatures_verified} in bundles, ${s.stored_cosignatures_verified} as stored by the control plane (${s.checkpoints_cosigned} exported checkpoints cosigned; the last ${s.last_checkpoint_cosigned ? "cosigned" : "NOT yet cosigned"})`,
    `  WORM objects matching the exported bytes: ${s.worm_objects_matched} (${s.worm_objects_archived} of this appliance archived)`,
  );
  if (s.not_archived.length > 0) {
    lines.push(`  not archived (lab archive, not WORM): ${s.not_archived.join(", ")}`);
  }
  if (s.as_of) {
    lines.push(`state of every check at ${s.as_of.at} (recorded time), from verified evidence:`);
    for (const c of s.as_of.checks) {
      lines.push(
        `  ${c.check_id} ${c.status} since ${c.recorded_at} (seq ${c.seq}, hash ${c.hash})`,
      );
    }
    if (s.as_of.checks.length === 0)
      lines.push("  no check result recorded by then in this export");
  }
  const f = s.first_failure;
  lines.push(
    f
      ? `FAILED: ${f.reason} in ${f.file}${f.line ? ` line ${f.line}` : ""}${f.seq !== undefined ? ` (seq ${f.seq})` : ""}: ${f.detail}`
      : "OK: every signature, link, checkpoint and proof verifies",
  );
  return `${lines.join("\n")}\n`;
}

type Parsed =
  | {
      ok: true;
      dir: string;
      pins: Pins;
      options: Parameters<typeof verifyExport>[1];
      json: boolean;
    }
  | { ok: false; message: string };

function parse(argv: string[]): Parsed {
  let values: {
    json?: boolean;
    workers?: string;
    help?: boolean;
    "appliance-key-id"?: string[];
    "control-plane-key-id"?: string[];
    pins?: string;
    "allow-unpinned"?: boolean;
    "as-of"?: string;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        json: { type: "boolean" },
        workers: { type: "string" },
        help: { type: "boolean" },
        "appliance-key-id": { type: "string", multiple: true },
        "control-plane-key-id": { type: "string", multiple: true },
        pins: { type: "string" },
        "allow-unpinned": { type: "boolean" },
        "as-of": { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
  if (values.help || positionals.length !== 1)
    return { ok: false, message: "one export directory" };
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0)) {
    return { ok: false, message: "--workers takes a whole number" };
  }
  const keyIds = [...(values["appliance-key-id"] ?? []), ...(values["control-plane-key-id"] ?? [])];
  const bad = keyIds.find((k) => !Sha256Hex.safeParse(k).success);
  if (bad !== undefined) {
    return {
      ok: false,
      message: `key id ${bad} is not 64 lower-case hex digits (sha256sum's form)`,
    };
  }
  let pins: Pins = {
    controlPlaneKeyIds: values["control-plane-key-id"] ?? [],
    appliances: (values["appliance-key-id"] ?? []).map((keyId) => ({ keyId })),
  };
  if (values.pins !== undefined) {
    let text: string;
    try {
      text = readFileSync(values.pins, "utf8");
    } catch {
      return { ok: false, message: `--pins ${values.pins} cannot be read` };
    }
    const file = parsePinsFile(text);
    if (!file.ok) return { ok: false, message: `--pins ${values.pins}: ${file.problem}` };
    pins = mergePins(pins, file.pins);
  }
  const asOf = values["as-of"];
  if (asOf !== undefined && !Timestamp.safeParse(asOf).success) {
    return { ok: false, message: "--as-of takes a UTC time such as 2026-11-30T23:59:59Z" };
  }
  return {
    ok: true,
    dir: positionals[0] as string,
    pins,
    json: values.json === true,
    options: {
      pins,
      ...(workers !== undefined ? { workers } : {}),
      ...(values["allow-unpinned"] ? { allowUnpinned: true } : {}),
      ...(asOf !== undefined ? { asOf } : {}),
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (!args.ok) {
    process.stderr.write(`verify-export: ${args.message}\n${USAGE}\n`);
    return 2;
  }
  const summary = await verifyExport(args.dir, args.options);
  process.stdout.write(args.json ? `${JSON.stringify(summary, null, 2)}\n` : describe(summary));
  return summary.ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
