import { z } from "zod";

/**
 * The lab appliance's state: what a NixOS clinic appliance would hold, as plain JSON, so another
 * process can change it (drift injection) while an agent runs against it. The emulators in
 * commands/ render it in the real tools' output formats; nothing here is ever read by a check
 * directly.
 */
const StorePath = z.string().regex(/^\/nix\/store\/[0-9a-z]{32}-[^/]+$/);
const Iso = z.iso.datetime({ offset: false });

export const LabUnit = z.strictObject({
  load_state: z.enum(["loaded", "not-found", "masked", "error"]),
  active_state: z.enum(["active", "inactive", "failed", "activating", "deactivating", "reloading"]),
  sub_state: z.string().min(1),
  /** systemd's Result= of the last run: success, exit-code, signal, timeout, ... */
  result: z.string().min(1),
  n_restarts: z.int().min(0),
  /** CPU time the unit used (systemd's CPUUsageNSec); null: accounting off ("[not set]"). */
  cpu_usage_nsec: z.int().min(0).nullable(),
  unit_file_state: z.string(),
  main_pid: z.int().min(0),
  /** When the unit last became active or, for oneshot units, last finished. */
  changed_at: Iso,
  description: z.string(),
  type: z.enum(["simple", "notify", "oneshot", "forking", "exec", "dbus"]),
});
export type LabUnit = z.infer<typeof LabUnit>;

export const LabSnapshot = z.strictObject({
  /** restic snapshot id: 64 hex digits (SHA-256 of the snapshot object). */
  id: z.string().regex(/^[0-9a-f]{64}$/),
  time: Iso,
  tree: z.string().regex(/^[0-9a-f]{64}$/),
  paths: z.array(z.string()).min(1),
});

export const LabRestoreTest = z.strictObject({
  snapshot_id: z.string().regex(/^[0-9a-f]{64}$/),
  finished_at: Iso,
  result: z.enum(["passed", "failed"]),
  files_checked: z.int().min(0),
});
export type LabRestoreTest = z.infer<typeof LabRestoreTest>;

export const LabBackupJob = z.strictObject({
  repository: z.string().min(1),
  snapshots: z.array(LabSnapshot),
  restore_tests: z.array(LabRestoreTest),
  /** False: restic cannot open the repository (wrong password, unreachable). */
  repository_reachable: z.boolean(),
});

export const LabLuksVolume = z.strictObject({
  /** The backing partition, for example sda2. */
  device: z.string().regex(/^[a-z0-9]+$/),
  active: z.boolean(),
  type: z.enum(["LUKS1", "LUKS2", "PLAIN"]),
  cipher: z.string().min(1),
  key_size_bits: z.int().min(0),
  size_sectors: z.int().min(1),
  mountpoint: z.string().nullable(),
  fstype: z.string(),
});
export type LabLuksVolume = z.infer<typeof LabLuksVolume>;

export const LabJournald = z.strictObject({
  /** journald.conf [Journal] Storage= as configured. */
  storage: z.enum(["persistent", "volatile", "auto", "none"]),
  /** journald.conf SystemMaxUse=, or null when unset. */
  system_max_use: z.string().nullable(),
  /** Whether /var/log/journal exists (decides Storage=auto). */
  persistent_dir: z.boolean(),
  disk_usage_bytes: z.int().min(0),
  /** False: journald is up but drops what it is sent (the canary never arrives). */
  accepts_messages: z.boolean(),
});

export const LabMount = z.strictObject({
  target: z.string().startsWith("/"),
  source: z.string(),
  fstype: z.string(),
  size_bytes: z.int().min(1),
  used_bytes: z.int().min(0),
});

export const LabFile = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("file"), content: z.string(), mode: z.int(), mtime: Iso }),
  z.strictObject({ kind: z.literal("directory"), mode: z.int(), mtime: Iso }),
  z.strictObject({ kind: z.literal("symlink"), target: z.string().min(1), mtime: Iso }),
]);
export type LabFile = z.infer<typeof LabFile>;

export const LabState = z.strictObject({
  format: z.literal("msp-lab-host/v1"),
  hostname: z.string().min(1),
  macs: z.array(z.string()),
  nixos: z.strictObject({
    /** nixos-version --json fields of the running generation. */
    version: z.string().regex(/^\d{2}\.\d{2}(?:pre)?(?:\.\d{8}\.[0-9a-f]{7,})?$/),
    nixpkgs_revision: z.string().regex(/^[0-9a-f]{40}$/),
    configuration_revision: z.string().nullable(),
    generations: z
      .array(z.strictObject({ number: z.int().min(1), system: StorePath, created_at: Iso }))
      .min(1),
    /** Generation numbers behind /run/current-system and /run/booted-system. */
    current: z.int().min(1),
    booted: z.int().min(1),
    /**
     * The generation the upgrade health gate last passed (its good-system record); absent: the
     * running one, which passed the gate when it started.
     */
    good: z.int().min(1).optional(),
  }),
  units: z.record(z.string(), LabUnit),
  backups: z.record(z.string(), LabBackupJob),
  /** `nft -j list ruleset` as the kernel would print it (with handles and counters). */
  nftables: z.strictObject({ nftables: z.array(z.record(z.string(), z.unknown())) }),
  journald: LabJournald,
  luks: z.record(z.string(), LabLuksVolume),
  /** Active swap areas (/proc/swaps); dm_uuid for device-mapper devices (/sys/block/dm-N/dm/uuid). */
  swaps: z.array(
    z.strictObject({
      device: z.string().startsWith("/"),
      type: z.enum(["partition", "file"]),
      size_kb: z.int().min(0),
      used_kb: z.int().min(0),
      priority: z.int(),
      dm_uuid: z.string().nullable(),
    }),
  ),
  /**
   * sshd's effective settings where they differ from the recorded baseline output (`sshd -T`
   * keys, lower case; "" removes the line).
   */
  sshd: z.record(z.string().regex(/^[a-z]+$/), z.string()),
  /** The kernel's audit state: enabled 0 (off), 1 (on) or 2 (locked); rules as auditctl -l. */
  audit: z.strictObject({ enabled: z.int().min(0).max(2), rules: z.array(z.string().min(1)) }),
  mounts: z.array(LabMount),
  cpu: z.strictObject({
    cores: z.int().min(1),
    load1: z.number(),
    load5: z.number(),
    load15: z.number(),
  }),
  /**
   * Faults of the tools themselves, by program name: `missing` programs are not installed
   * (not_found), `hang` ones never answer (the caller's timeout), `garble` ones print output
   * their parser must refuse.
   */
  faults: z
    .strictObject({
      missing: z.array(z.string()),
      hang: z.array(z.string()),
      garble: z.array(z.string()),
    })
    .default({ missing: [], hang: [], garble: [] }),
  /**
   * What the healer's mutating emulators need beyond the checks' view: the system profile's
   * generation (set by nix-env --set before switch-to-configuration activates it), store garbage
   * nix-store --gc can free, and failure injection for rollback tests: `fail_once` programs
   * (basename, or "systemctl <verb>") exit non-zero on their next run only; `unstick` units fail
   * again right after a successful restart or start.
   */
  healing: z
    .strictObject({
      profile: z.int().min(1).optional(),
      garbage_bytes: z.int().min(0),
      fail_once: z.array(z.string()),
      unstick: z.array(z.string()),
    })
    .default({ garbage_bytes: 0, fail_once: [], unstick: [] }),
  /** Plain files, directories and symlinks (the firewall baseline, ...). */
  files: z.record(z.string().startsWith("/"), LabFile),
});
export type LabState = z.infer<typeof LabState>;
