import type { Signer } from "#protocol";
import { type Config, dataDirLayout } from "../config.ts";
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
 * Runs the vault job every `intervalS` seconds (and once at start), never overlapping itself.
 * Each step is idempotent and guarded in the Store (unique checkpoint size, compare-and-swap
 * cursor), so several instances may run it; a later issue can add a lease so only one does.
 */
export function startVaultJob(vault: Vault, intervalS: number, logger: Logger) {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = vault
      .runOnce()
      .catch((error: unknown) =>
        logger.log("warn", "vault job failed", {
          error: error instanceof Error ? error.name : "unknown",
        }),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, intervalS * 1000);
  timer.unref();
  setImmediate(tick);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
