#!/usr/bin/env node
import { parseArgs } from "node:util";
import { type ExportSummary, verifyExport } from "./verify-export.ts";

/**
 * `verify-export DIR [--json] [--workers N]`: the auditor's offline verifier. It needs only
 * this folder and protocol/ (no control plane, no network). Exit codes: 0 the export verifies,
 * 1 it does not (the first failure is printed with its reason), 2 usage error.
 */
const USAGE = "usage: verify-export DIR [--json] [--workers N]";

function describe(s: ExportSummary): string {
  const lines = [
    `evidence export ${s.tenant_id ?? "?"}/${s.appliance_id ?? "?"}` +
      (s.seq_range ? `, bundles ${s.seq_range[0]}..${s.seq_range[1]}` : ""),
    `  control-plane key id ${s.control_plane_key_id ?? "?"} (compare it with the pinned one)`,
    `  appliance key id     ${s.appliance_key_id ?? "?"}`,
    `  bundles read ${s.bundles}; signatures verified ${s.signatures_verified}; chain links verified ${s.chain_links_verified}`,
    `  checkpoints ${s.checkpoints}; verified ${s.checkpoints_verified} (roots recomputed ${s.roots_recomputed}, consistency proofs ${s.consistency_proofs_verified}, inclusion proofs ${s.inclusion_proofs_verified})`,
    `  checkpoints the appliance recorded as verified, matched: ${s.appliance_seen_checkpoints_matched}`,
    `  WORM objects matching the exported bytes: ${s.worm_objects_matched} (${s.worm_objects_archived} of this appliance archived)`,
  ];
  const f = s.first_failure;
  lines.push(
    f
      ? `FAILED: ${f.reason} in ${f.file}${f.line ? ` line ${f.line}` : ""}${f.seq !== undefined ? ` (seq ${f.seq})` : ""}: ${f.detail}`
      : "OK: every signature, link, checkpoint and proof verifies",
  );
  return `${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  let values: { json?: boolean; workers?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        json: { type: "boolean" },
        workers: { type: "string" },
        help: { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`verify-export: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (values.help || positionals.length !== 1 || (workers !== undefined && !(workers >= 0))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const summary = await verifyExport(positionals[0] as string, {
    ...(workers !== undefined ? { workers } : {}),
  });
  process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : describe(summary));
  return summary.ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
