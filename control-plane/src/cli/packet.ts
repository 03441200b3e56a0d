import { existsSync } from "node:fs";
import { cp } from "node:fs/promises";
import { createAuditLog } from "../audit.ts";
import { dataDirLayout } from "../config.ts";
import { generatePacket, Month } from "../packets/index.ts";
import { DEFAULT_CATALOG_DIR } from "../planner/from-config.ts";
import { openVault } from "../vault/index.ts";
import { CONFIG_OPTIONS, type Command, type Flags, need, usageError } from "./command.ts";
import { commandConfig, openStore, orderSigner, stderrLogger } from "./config.ts";

/**
 * `packet`: one month's compliance packet of a tenant (the next version when one exists, which
 * needs --reason), written to a new folder and recorded; `--list` prints every version instead.
 */
export const packetCommand: Command = {
  name: "packet",
  usage: `control-plane packet (--data-dir DIR | --config FILE) --tenant T --month YYYY-MM --out NEW_DIR [--reason TEXT]
control-plane packet (--data-dir DIR | --config FILE) --tenant T --list`,
  options: {
    ...CONFIG_OPTIONS,
    tenant: { type: "string" },
    month: { type: "string" },
    out: { type: "string" },
    reason: { type: "string" },
    list: { type: "boolean" },
  },
  async run(flags) {
    if (flags["data-dir"] === undefined && flags.config === undefined)
      throw usageError("packet needs --data-dir or --config");
    if (flags.list === true) return listVersions(flags);
    const [tenantId, month, out] = ["tenant", "month", "out"].map((name) =>
      need("packet", flags, name),
    ) as [string, string, string];
    if (!Month.safeParse(month).success)
      throw usageError("--month must be a month such as 2026-11 (YYYY-MM)");
    if (existsSync(out)) throw usageError(`--out ${out} exists; give a new folder`);
    const config = commandConfig("packet", flags);
    const files = dataDirLayout(config.data_dir);
    const logger = stderrLogger(config);
    const signer = orderSigner(config);
    const store = openStore(config);
    try {
      await store.migrate();
      const { archive } = openVault(config, { store, signer, logger });
      const made = await generatePacket(
        {
          store,
          signer,
          catalogDir: config.catalog_dir ?? DEFAULT_CATALOG_DIR,
          packetsDir: files.packets,
          archiveKind: archive.kind,
          now: () => new Date(),
        },
        tenantId,
        month,
        { requestedBy: "cli", reason: typeof flags.reason === "string" ? flags.reason : null },
      );
      await cp(made.dir, out, { recursive: true, errorOnExist: true, force: false });
      await createAuditLog(store, () => new Date()).record("cli", "packet.generated", tenantId, {
        month,
        version: made.record.version,
        reason: made.record.reason,
        files: made.record.files,
        counts: made.record.counts,
      });
      process.stdout.write(
        `packet ${tenantId} ${month} version ${made.record.version}: ${Object.keys(made.record.files).join(", ")}, manifest.json in ${out} (${JSON.stringify(made.record.counts)})\n`,
      );
    } finally {
      await store.close();
    }
  },
};

/** One line per version: month, version, when, by whom, manifest hash, what it replaced, why. */
async function listVersions(flags: Flags): Promise<void> {
  const tenantId = need("packet", flags, "tenant");
  const store = openStore(commandConfig("packet", flags));
  try {
    await store.migrate();
    for (const p of await store.listPackets(tenantId)) {
      const replaces = p.previousManifestSha256 ? ` replaces ${p.previousManifestSha256}` : "";
      process.stdout.write(
        `${p.month} v${p.version} ${p.generatedAt} by ${p.requestedBy} manifest ${p.manifestSha256 ?? "-"}${replaces}${p.reason ? ` reason: ${p.reason}` : ""}\n`,
      );
    }
  } finally {
    await store.close();
  }
}
