import { ExportRangeBasis, Timestamp } from "#protocol";
import { createAuditLog } from "../audit.ts";
import { writeExport } from "../vault/export.ts";
import { openVault } from "../vault/index.ts";
import { CONFIG_OPTIONS, type Command, need, usageError } from "./command.ts";
import { commandConfig, openStore, orderSigner, stderrLogger } from "./config.ts";

/** `export`: an evidence export for an auditor (the same as the operator API's export endpoint). */
export const exportCommand: Command = {
  name: "export",
  usage: `control-plane export (--data-dir DIR | --config FILE) --tenant T --appliance A
                       --from RFC3339 --to RFC3339 --out NEW_DIR [--basis received_at|recorded_at]`,
  options: {
    ...CONFIG_OPTIONS,
    tenant: { type: "string" },
    appliance: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    basis: { type: "string" },
    out: { type: "string" },
  },
  async run(flags) {
    const config = commandConfig("export", flags);
    const [tenantId, applianceId, from, to, out] = ["tenant", "appliance", "from", "to", "out"].map(
      (name) => need("export", flags, name),
    ) as [string, string, string, string, string];
    for (const [name, value] of [
      ["from", from],
      ["to", to],
    ]) {
      if (!Timestamp.safeParse(value).success)
        throw usageError(`--${name} must be an RFC 3339 UTC time such as 2026-11-01T00:00:00Z`);
    }
    const basis = ExportRangeBasis.safeParse(flags.basis ?? "received_at");
    if (!basis.success) throw usageError("--basis is received_at or recorded_at");
    const logger = stderrLogger(config);
    const signer = orderSigner(config);
    const store = openStore(config);
    try {
      await store.migrate();
      const { vault, archive } = openVault(config, { store, signer, logger });
      const manifest = await writeExport(
        { store, vault, signer, archiveKind: archive.kind, now: () => new Date() },
        { tenantId, applianceId, from, to, basis: basis.data, directory: out },
      );
      await createAuditLog(store, () => new Date()).record(
        "cli",
        "evidence.exported",
        `${tenantId}/${applianceId}`,
        { from, to, first_seq: manifest.first_seq, last_seq: manifest.last_seq },
      );
      process.stdout.write(
        `exported bundles ${manifest.first_seq}..${manifest.last_seq} (${manifest.checkpoint_count} checkpoints) to ${out}\n`,
      );
    } finally {
      await store.close();
    }
  },
};
