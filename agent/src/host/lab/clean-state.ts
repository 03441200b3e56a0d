import { createHash } from "node:crypto";
import recordedRuleset from "../../checks/firewall/fixtures/baseline.json" with { type: "json" };
import type { LabState, LabUnit } from "./state.ts";

/**
 * The lab appliance's firewall: `nft -j list ruleset` as printed by nftables 1.0.6 after loading
 * the appliance baseline (inbound default drop, SSH only from the management network 10.99.0.0/24,
 * egress only to DNS, NTP and an allowlisted HTTPS set). Recorded on a Debian 12 machine in a
 * fresh network namespace (`unshare -n sh -c 'nft -f baseline.nft && nft -j list ruleset'`); the
 * firewall check's tests read the same file.
 */
const LAB_BASELINE_RULESET: LabState["nftables"] = recordedRuleset;

/** Where the lab keeps the firewall baseline (config host.firewall_ruleset_path in the lab). */
export const LAB_FIREWALL_BASELINE_PATH = "/etc/compliance-agent/firewall-baseline.json";
export const LAB_BACKUP_JOB = "clinic-data";
export const LAB_LUKS_VOLUMES = ["cryptdata", "cryptroot"] as const;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A Nix store path whose 32-character hash is derived from `seed` (Nix's base-32 alphabet). */
export function labStorePath(seed: string, name: string): string {
  const alphabet = "0123456789abcdfghijklmnpqrsvwxyz";
  const digest = createHash("sha256").update(seed).digest();
  const hash = [...digest.subarray(0, 32)].map((b) => alphabet[b % 32]).join("");
  return `/nix/store/${hash}-${name}`;
}

export const hex64 = (seed: string) => createHash("sha256").update(seed).digest("hex");

function unit(
  description: string,
  type: LabUnit["type"],
  changedAt: Date,
  oneshot = false,
): LabUnit {
  return {
    load_state: "loaded",
    active_state: oneshot && type === "oneshot" ? "inactive" : "active",
    sub_state: oneshot && type === "oneshot" ? "dead" : type === "oneshot" ? "exited" : "running",
    result: "success",
    n_restarts: 0,
    cpu_usage_nsec: 1_000_000 * (200 + description.length * 37),
    unit_file_state: oneshot ? "static" : "enabled",
    main_pid: oneshot || type === "oneshot" ? 0 : 400 + description.length,
    changed_at: changedAt.toISOString(),
    description,
    type,
  };
}

/**
 * A freshly installed, compliant clinic appliance as of `now`: the approved generation booted
 * ten days after its nixpkgs revision, every critical unit active, a backup six hours ago, a
 * passing test restore two days ago, the baseline firewall, persistent journald within budget,
 * two open LUKS2 volumes.
 */
export function cleanLabState(now: Date): LabState {
  const t = (ms: number) => new Date(now.getTime() - ms);
  const revisionDate = t(10 * DAY);
  const ymd = revisionDate.toISOString().slice(0, 10).replaceAll("-", "");
  const nixpkgs = hex64(`nixpkgs-${ymd}`).slice(0, 40);
  const version = `26.05.${ymd}.${nixpkgs.slice(0, 7)}`;
  const system = (n: number) => labStorePath(`system-${n}`, `nixos-system-clinic-lab-${version}`);
  const boot = t(2 * DAY);
  const snapshot = (ageMs: number) => {
    const time = t(ageMs).toISOString();
    return {
      id: hex64(`snapshot-${time}`),
      time,
      tree: hex64(`tree-${time}`),
      paths: ["/var/lib/clinic"],
    };
  };
  const latest = snapshot(6 * HOUR);
  return {
    format: "msp-lab-host/v1",
    hostname: "clinic-lab-01",
    macs: ["52:54:00:12:34:56"],
    nixos: {
      version,
      nixpkgs_revision: nixpkgs,
      configuration_revision: hex64("clinic-config").slice(0, 40),
      generations: [1, 2, 3].map((n) => ({
        number: n,
        system: system(n),
        created_at: t((4 - n) * 5 * DAY).toISOString(),
      })),
      current: 3,
      booted: 3,
    },
    units: {
      "auditd.service": unit("Linux Audit daemon", "forking", boot),
      "audit-rules-nixos.service": unit("Load Audit Rules", "oneshot", boot),
      "chronyd.service": unit("chrony NTP daemon", "simple", boot),
      "nftables.service": unit("nftables firewall", "oneshot", boot),
      "sshd.service": unit("SSH Daemon", "simple", boot),
      "systemd-journald.service": unit("Journal Service", "notify", boot),
      [`restic-backups-${LAB_BACKUP_JOB}.service`]: unit(
        `restic backup ${LAB_BACKUP_JOB}`,
        "oneshot",
        new Date(latest.time),
        true,
      ),
    },
    backups: {
      [LAB_BACKUP_JOB]: {
        repository: "s3:https://backup.example.net/clinic-lab-01",
        snapshots: [snapshot(30 * HOUR), latest],
        restore_tests: [
          {
            snapshot_id: hex64(`snapshot-${t(2 * DAY + 6 * HOUR).toISOString()}`),
            finished_at: t(2 * DAY).toISOString(),
            result: "passed",
            files_checked: 50,
          },
        ],
        repository_reachable: true,
      },
    },
    nftables: structuredClone(LAB_BASELINE_RULESET),
    journald: {
      storage: "persistent",
      system_max_use: "2G",
      persistent_dir: true,
      disk_usage_bytes: 412 * 1024 * 1024,
      accepts_messages: true,
    },
    sshd: {},
    audit: {
      enabled: 1,
      // Rules of the baseline's audit-rules-loaded toggle, as auditctl -l prints them.
      rules: [
        "-w /etc/passwd -p wa -k identity",
        "-w /etc/group -p wa -k identity",
        "-w /etc/shadow -p wa -k identity",
        "-w /etc/sudoers -p wa -k scope",
        "-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -F key=time-change",
        "-a always,exit -F path=/run/wrappers/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -F key=privileged",
      ],
    },
    // NixOS swapDevices.*.randomEncryption: plain dm-crypt with a key made fresh at every boot.
    swaps: [
      {
        device: "/dev/dm-2",
        type: "partition",
        size_kb: 8_388_604,
        used_kb: 0,
        priority: -2,
        dm_uuid: "CRYPT-PLAIN-sda3",
      },
    ],
    luks: {
      cryptroot: {
        device: "sda2",
        active: true,
        type: "LUKS2",
        cipher: "aes-xts-plain64",
        key_size_bits: 512,
        size_sectors: 975_175_680,
        mountpoint: "/",
        fstype: "ext4",
      },
      cryptdata: {
        device: "sdb1",
        active: true,
        type: "LUKS2",
        cipher: "aes-xts-plain64",
        key_size_bits: 512,
        size_sectors: 1_953_490_944,
        mountpoint: "/var/lib/clinic",
        fstype: "ext4",
      },
    },
    mounts: [
      {
        target: "/",
        source: "/dev/mapper/cryptroot",
        fstype: "ext4",
        size_bytes: 490_000_000_000,
        used_bytes: 121_000_000_000,
      },
      {
        target: "/boot",
        source: "/dev/sda1",
        fstype: "vfat",
        size_bytes: 1_071_624_192,
        used_bytes: 161_000_000,
      },
      {
        target: "/var/lib/clinic",
        source: "/dev/mapper/cryptdata",
        fstype: "ext4",
        size_bytes: 982_000_000_000,
        used_bytes: 301_000_000_000,
      },
    ],
    cpu: { cores: 4, load1: 0.31, load5: 0.42, load15: 0.38 },
    faults: { missing: [], hang: [], garble: [] },
    healing: { garbage_bytes: 0, fail_once: [], unstick: [] },
    files: {
      [LAB_FIREWALL_BASELINE_PATH]: {
        kind: "file",
        content: `${JSON.stringify(LAB_BASELINE_RULESET)}\n`,
        mode: 0o444,
        mtime: boot.toISOString(),
      },
    },
  };
}
