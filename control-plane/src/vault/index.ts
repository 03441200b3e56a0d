import type { Signer } from "#protocol";
import { type Config, dataDirLayout } from "../config.ts";
import { startScheduledJob } from "../jobs/lease.ts";
import type { Logger } from "../logger.ts";
import type { Store } from "../store/index.ts";
import type { Archive } from "./archive.ts";
import { localArchive } from "./local-archive.ts";
import { s3Archive } from "./s3-archive.ts";
import { createVault, type Vault } from "./vault.ts";

export type { Archive } from "./archive.ts";
export { createVault, type Vault } from "./vault.ts";

/** Builds the configured archive and the vault on it (main.ts only). */
export function openVault(
  config: Config,
  deps: { store: Store; signer: Signer; logger: Logger },
): { vault: Vault; archive: Archive } {
  const a = config.vault.archive;
  const archive =
    a.kind === "s3"
      ? s3Archive({
          bucket: a.bucket,
          region: a.region,
          forcePathStyle: a.force_path_style,
          ...(a.endpoint ? { endpoint: a.endpoint } : {}),
        })
      : localArchive(a.directory ?? dataDirLayout(config.data_dir).vaultLocal);
  if (archive.kind === "local-not-worm") {
    deps.logger.log("warn", "evidence archive is a local directory, NOT WORM (lab only)", {
      archive: archive.describe,
    });
  }
  const vault = createVault({
    ...deps,
    archive,
    now: () => new Date(),
    retentionDays: config.vault.retention_days,
    segmentSeconds: config.vault.segment_seconds,
  });
  return { vault, archive };
}

/**
 * Runs the vault job every `intervalS` seconds (and once at start), never overlapping itself,
 * and on one instance at a time: under the Store lease "vault" (jobs/lease.ts). Each step is
 * also idempotent and guarded in the Store (unique checkpoint size, compare-and-swap cursor),
 * so a lease lost mid-run (a stalled process) cannot double-apply either.
 */
export function startVaultJob(
  vault: Vault,
  intervalS: number,
  deps: { store: Store; logger: Logger; holder: string },
) {
  return startScheduledJob(deps.store, "vault", intervalS, () => vault.runOnce(), deps);
}
