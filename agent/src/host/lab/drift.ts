import { z } from "zod";
import type { DriftCheckId } from "#catalog";
import { cleanLabState, hex64, labStorePath } from "./clean-state.ts";
import type { LabState } from "./state.ts";
import { readLabStateFile, writeLabStateFile } from "./state-file.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const Unit = z.string().regex(/^[A-Za-z0-9@_.-]+\.service$/);
const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/);

/** One change to the lab appliance that a check must notice (or a fault of a tool itself). */
export const Drift = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("service_stopped"), unit: Unit }),
  z.strictObject({ kind: z.literal("service_failed"), unit: Unit }),
  z.strictObject({
    kind: z.literal("service_crash_loop"),
    unit: Unit,
    restarts: z.int().min(1).default(7),
  }),
  z.strictObject({ kind: z.literal("sshd_password_auth") }),
  z.strictObject({ kind: z.literal("sshd_root_login") }),
  z.strictObject({ kind: z.literal("sshd_log_level") }),
  z.strictObject({ kind: z.literal("sshd_no_idle_timeout") }),
  z.strictObject({ kind: z.literal("sshd_weak_crypto") }),
  z.strictObject({ kind: z.literal("generation_mismatch") }),
  z.strictObject({ kind: z.literal("generation_stale"), days: z.int().min(1).default(45) }),
  z.strictObject({ kind: z.literal("backup_failed"), job: Name }),
  z.strictObject({
    kind: z.literal("backup_stale"),
    job: Name,
    hours: z.number().min(1).default(50),
  }),
  z.strictObject({
    kind: z.literal("restore_test_overdue"),
    job: Name,
    days: z.number().min(1).default(9),
  }),
  z.strictObject({ kind: z.literal("firewall_ssh_exposed") }),
  z.strictObject({ kind: z.literal("firewall_egress_open") }),
  z.strictObject({ kind: z.literal("firewall_rule_reordered") }),
  z.strictObject({ kind: z.literal("audit_rules_cleared") }),
  z.strictObject({ kind: z.literal("audit_disabled") }),
  z.strictObject({ kind: z.literal("journald_stopped") }),
  z.strictObject({ kind: z.literal("journald_dropping") }),
  z.strictObject({ kind: z.literal("journald_volatile") }),
  z.strictObject({ kind: z.literal("journal_oversize") }),
  z.strictObject({ kind: z.literal("luks_volume_closed"), volume: Name }),
  z.strictObject({ kind: z.literal("swap_unencrypted") }),
  z.strictObject({ kind: z.literal("luks_weak_cipher"), volume: Name }),
  z.strictObject({ kind: z.literal("disk_full"), mount: z.string().startsWith("/") }),
  z.strictObject({ kind: z.literal("cpu_load_high"), unit: Unit.default("auditd.service") }),
  z.strictObject({ kind: z.literal("tool_missing"), program: Name }),
  z.strictObject({ kind: z.literal("tool_hangs"), program: Name }),
  z.strictObject({ kind: z.literal("tool_garbled"), program: Name }),
  z.strictObject({ kind: z.literal("reset") }),
]);
export type Drift = z.input<typeof Drift>;
export type DriftKind = Drift["kind"];

/**
 * Every drift kind, what it does, and what the checks report for it on the clean lab host
 * (null: a fault of a tool, which makes the check using it an `error`, never a pass; or reset).
 */
export const DRIFT_KINDS: {
  readonly [K in DriftKind]: {
    readonly description: string;
    readonly example: Extract<Drift, { kind: K }>;
    readonly detects: { readonly check: DriftCheckId; readonly finding: string } | null;
  };
} = {
  service_stopped: {
    description: "a critical unit is stopped (inactive/dead)",
    example: { kind: "service_stopped", unit: "chronyd.service" },
    detects: { check: "services", finding: "unit_inactive" },
  },
  service_failed: {
    description: "a critical unit has failed (Result=exit-code)",
    example: { kind: "service_failed", unit: "auditd.service" },
    detects: { check: "services", finding: "unit_failed" },
  },
  service_crash_loop: {
    description: "a critical unit is active but systemd restarted it many times",
    example: { kind: "service_crash_loop", unit: "sshd.service" },
    detects: { check: "services", finding: "unit_failed" },
  },
  sshd_password_auth: {
    description: "sshd accepts passwords (PasswordAuthentication yes)",
    example: { kind: "sshd_password_auth" },
    detects: { check: "services", finding: "sshd_password_auth_enabled" },
  },
  sshd_root_login: {
    description: "sshd lets root log in with a key (PermitRootLogin prohibit-password)",
    example: { kind: "sshd_root_login" },
    detects: { check: "services", finding: "sshd_root_login_permitted" },
  },
  sshd_log_level: {
    description: "sshd logs at INFO, without the key behind each login",
    example: { kind: "sshd_log_level" },
    detects: { check: "services", finding: "sshd_log_level_drift" },
  },
  sshd_no_idle_timeout: {
    description: "sshd has no ChannelTimeout, so idle sessions stay open",
    example: { kind: "sshd_no_idle_timeout" },
    detects: { check: "services", finding: "sshd_idle_timeout_drift" },
  },
  sshd_weak_crypto: {
    description: "sshd offers CBC/CTR ciphers and non-EtM MACs",
    example: { kind: "sshd_weak_crypto" },
    detects: { check: "services", finding: "sshd_crypto_drift" },
  },
  generation_mismatch: {
    description: "someone switched to an unapproved generation (a new one, not rebooted)",
    example: { kind: "generation_mismatch" },
    detects: { check: "patching", finding: "generation_mismatch" },
  },
  generation_stale: {
    description: "the running generation's nixpkgs is older than the baseline allows",
    example: { kind: "generation_stale" },
    detects: { check: "patching", finding: "generation_stale" },
  },
  backup_failed: {
    description: "the last backup run failed (restic-backups-<job>.service failed)",
    example: { kind: "backup_failed", job: "clinic-data" },
    detects: { check: "backups", finding: "backup_failed" },
  },
  backup_stale: {
    description: "no snapshot newer than `hours` (default 50)",
    example: { kind: "backup_stale", job: "clinic-data" },
    detects: { check: "backups", finding: "backup_stale" },
  },
  restore_test_overdue: {
    description: "the last passing test restore is `days` old (default 9)",
    example: { kind: "restore_test_overdue", job: "clinic-data" },
    detects: { check: "backups", finding: "restore_test_overdue" },
  },
  firewall_ssh_exposed: {
    description: "the SSH rule no longer limits the source network (tcp dport 22 accept)",
    example: { kind: "firewall_ssh_exposed" },
    detects: { check: "firewall", finding: "ssh_exposed" },
  },
  firewall_egress_open: {
    description: "the output chain's policy is accept instead of drop",
    example: { kind: "firewall_egress_open" },
    detects: { check: "firewall", finding: "egress_policy_drift" },
  },
  firewall_rule_reordered: {
    description: "the first two input rules swapped places (same rules, another order)",
    example: { kind: "firewall_rule_reordered" },
    detects: { check: "firewall", finding: "inbound_policy_drift" },
  },
  audit_rules_cleared: {
    description: "the kernel holds no audit rules (auditctl -D)",
    example: { kind: "audit_rules_cleared" },
    detects: { check: "logging", finding: "audit_rules_missing" },
  },
  audit_disabled: {
    description: "kernel auditing is switched off (auditctl -e 0)",
    example: { kind: "audit_disabled" },
    detects: { check: "logging", finding: "audit_rules_missing" },
  },
  journald_stopped: {
    description: "systemd-journald is stopped",
    example: { kind: "journald_stopped" },
    detects: { check: "logging", finding: "journald_inactive" },
  },
  journald_dropping: {
    description: "journald runs but drops messages (the canary never arrives)",
    example: { kind: "journald_dropping" },
    detects: { check: "logging", finding: "journald_inactive" },
  },
  journald_volatile: {
    description: "journald.conf says Storage=volatile and /var/log/journal is gone",
    example: { kind: "journald_volatile" },
    detects: { check: "logging", finding: "journald_not_persistent" },
  },
  journal_oversize: {
    description: "the journal takes 3 GiB and SystemMaxUse is unset",
    example: { kind: "journal_oversize" },
    detects: { check: "logging", finding: "journal_usage_high" },
  },
  luks_volume_closed: {
    description: "an expected LUKS volume is not open",
    example: { kind: "luks_volume_closed", volume: "cryptdata" },
    detects: { check: "encryption", finding: "luks_volume_unencrypted" },
  },
  swap_unencrypted: {
    description: "swap runs on the raw partition /dev/sda3, not through dm-crypt",
    example: { kind: "swap_unencrypted" },
    detects: { check: "encryption", finding: "swap_unencrypted" },
  },
  luks_weak_cipher: {
    description: "an expected LUKS volume uses aes-cbc-essiv:sha256 with a 256-bit key",
    example: { kind: "luks_weak_cipher", volume: "cryptroot" },
    detects: { check: "encryption", finding: "luks_volume_unencrypted" },
  },
  disk_full: {
    description: "a mounted volume is 95 % full",
    example: { kind: "disk_full", mount: "/var/lib/clinic" },
    detects: { check: "services", finding: "disk_usage_high" },
  },
  cpu_load_high: {
    description: "the 15-minute load is 3 per core, `unit` (default auditd) using the most CPU",
    example: { kind: "cpu_load_high" },
    detects: { check: "services", finding: "cpu_load_high" },
  },
  tool_missing: {
    description: "a program is not installed (not_found)",
    example: { kind: "tool_missing", program: "nft" },
    detects: null,
  },
  tool_hangs: {
    description: "a program never answers (the caller's timeout)",
    example: { kind: "tool_hangs", program: "cryptsetup" },
    detects: null,
  },
  tool_garbled: {
    description: "a program prints output its parser must refuse",
    example: { kind: "tool_garbled", program: "lsblk" },
    detects: null,
  },
  reset: {
    description: "back to the clean appliance (keeps hostname and MACs)",
    example: { kind: "reset" },
    detects: null,
  },
};

/** Applies one drift to a copy of `state`; throws when it names something the state lacks. */
export function applyDrift(state: LabState, input: Drift, now: Date = new Date()): LabState {
  const drift = Drift.parse(input);
  const s = structuredClone(state);
  const unit = (name: string) => {
    const u = s.units[name];
    if (!u) throw new Error(`the lab has no unit ${name}`);
    return u;
  };
  const backup = (job: string) => {
    const b = s.backups[job];
    if (!b) throw new Error(`the lab has no backup job ${job}`);
    return b;
  };
  const volume = (name: string) => {
    const v = s.luks[name];
    if (!v) throw new Error(`the lab has no LUKS volume ${name}`);
    return v;
  };
  const iso = (msAgo: number) => new Date(now.getTime() - msAgo).toISOString();
  switch (drift.kind) {
    case "service_stopped":
      Object.assign(unit(drift.unit), {
        active_state: "inactive",
        sub_state: "dead",
        main_pid: 0,
        changed_at: iso(0),
      });
      break;
    case "service_failed":
      Object.assign(unit(drift.unit), {
        active_state: "failed",
        sub_state: "failed",
        result: "exit-code",
        main_pid: 0,
        changed_at: iso(0),
      });
      break;
    case "service_crash_loop":
      unit(drift.unit).n_restarts = drift.restarts;
      break;
    case "sshd_password_auth":
      s.sshd.passwordauthentication = "yes";
      break;
    case "sshd_root_login":
      s.sshd.permitrootlogin = "without-password"; // how sshd -T prints prohibit-password
      break;
    case "sshd_log_level":
      s.sshd.loglevel = "INFO";
      break;
    case "sshd_no_idle_timeout":
      s.sshd.channeltimeout = "";
      break;
    case "sshd_weak_crypto":
      Object.assign(s.sshd, { ciphers: "aes256-ctr,aes128-cbc", macs: "hmac-sha2-256,hmac-sha1" });
      break;
    case "generation_mismatch": {
      const number = Math.max(...s.nixos.generations.map((g) => g.number)) + 1;
      s.nixos.generations.push({
        number,
        system: labStorePath(
          `system-${number}-unapproved`,
          `nixos-system-clinic-lab-${s.nixos.version}`,
        ),
        created_at: iso(0),
      });
      s.nixos.current = number;
      break;
    }
    case "generation_stale": {
      const date = new Date(now.getTime() - drift.days * DAY);
      const ymd = date.toISOString().slice(0, 10).replaceAll("-", "");
      s.nixos.version = s.nixos.version.replace(/\.\d{8}\./, `.${ymd}.`);
      break;
    }
    case "backup_failed":
      backup(drift.job);
      Object.assign(unit(`restic-backups-${drift.job}.service`), {
        active_state: "failed",
        sub_state: "failed",
        result: "exit-code",
        changed_at: iso(0),
      });
      break;
    case "backup_stale": {
      const b = backup(drift.job);
      const cutoff = now.getTime() - drift.hours * HOUR;
      // The newest snapshot is then exactly `hours` old.
      b.snapshots = b.snapshots.filter((x) => Date.parse(x.time) < cutoff);
      const time = iso(drift.hours * HOUR);
      b.snapshots.push({
        id: hex64(`snapshot-${time}`),
        time,
        tree: hex64(`tree-${time}`),
        paths: ["/var/lib/clinic"],
      });
      break;
    }
    case "restore_test_overdue":
      backup(drift.job).restore_tests = backup(drift.job).restore_tests.map((r) => ({
        ...r,
        finished_at: iso(drift.days * DAY),
      }));
      break;
    case "firewall_ssh_exposed": {
      const rule = firewallRules(s).find((r) => r.expr.some(matchesSshPort));
      if (!rule) throw new Error("the lab ruleset has no SSH rule");
      rule.expr = [
        { match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: 22 } },
        { accept: null },
      ];
      break;
    }
    case "firewall_egress_open": {
      const chain = s.nftables.nftables
        .map((o) => o.chain as Record<string, unknown> | undefined)
        .find((c) => c?.hook === "output");
      if (!chain) throw new Error("the lab ruleset has no output chain");
      chain.policy = "accept";
      break;
    }
    case "firewall_rule_reordered": {
      const list = s.nftables.nftables;
      const idx = list.flatMap((o, i) =>
        (o.rule as { chain?: string } | undefined)?.chain === "input" ? [i] : [],
      );
      const [a, b] = idx;
      if (a === undefined || b === undefined)
        throw new Error("the lab ruleset has fewer than two input rules");
      [list[a], list[b]] = [list[b] as Record<string, unknown>, list[a] as Record<string, unknown>];
      break;
    }
    case "audit_rules_cleared":
      s.audit.rules = [];
      break;
    case "audit_disabled":
      s.audit.enabled = 0;
      break;
    case "journald_stopped":
      Object.assign(unit("systemd-journald.service"), {
        active_state: "inactive",
        sub_state: "dead",
        main_pid: 0,
      });
      break;
    case "journald_dropping":
      s.journald.accepts_messages = false;
      break;
    case "journald_volatile":
      Object.assign(s.journald, { storage: "volatile", persistent_dir: false });
      break;
    case "journal_oversize":
      Object.assign(s.journald, { disk_usage_bytes: 3 * 1024 ** 3, system_max_use: null });
      break;
    case "swap_unencrypted":
      s.swaps = [
        {
          device: "/dev/sda3",
          type: "partition",
          size_kb: 8_388_604,
          used_kb: 0,
          priority: -2,
          dm_uuid: null,
        },
      ];
      break;
    case "luks_volume_closed":
      volume(drift.volume).active = false;
      break;
    case "luks_weak_cipher":
      Object.assign(volume(drift.volume), { cipher: "aes-cbc-essiv:sha256", key_size_bits: 256 });
      break;
    case "disk_full": {
      const m = s.mounts.find((x) => x.target === drift.mount);
      if (!m) throw new Error(`the lab has no mount ${drift.mount}`);
      m.used_bytes = Math.floor(m.size_bytes * 0.95);
      break;
    }
    case "cpu_load_high":
      Object.assign(s.cpu, {
        load1: s.cpu.cores * 3,
        load5: s.cpu.cores * 3,
        load15: s.cpu.cores * 3,
      });
      unit(drift.unit).cpu_usage_nsec = 86_400 * 1_000_000_000;
      break;
    case "tool_missing":
      s.faults.missing.push(drift.program);
      break;
    case "tool_hangs":
      s.faults.hang.push(drift.program);
      break;
    case "tool_garbled":
      s.faults.garble.push(drift.program);
      break;
    case "reset":
      return { ...cleanLabState(now), hostname: s.hostname, macs: s.macs };
  }
  return s;
}

function matchesSshPort(statement: unknown): boolean {
  const match = (
    statement as { match?: { left?: { payload?: { field?: string } }; right?: unknown } }
  ).match;
  return match?.left?.payload?.field === "dport" && match.right === 22;
}

function firewallRules(s: LabState): { expr: unknown[] }[] {
  return s.nftables.nftables.flatMap((o) => (o.rule ? [o.rule as { expr: unknown[] }] : []));
}

/**
 * Injects drift into the lab host a running agent (`agent --lab --lab-state FILE`) reads: the
 * file is rewritten atomically and the agent sees the change on its next check.
 */
export function injectDrift(stateFile: string, drift: Drift, now: Date = new Date()): LabState {
  const next = applyDrift(readLabStateFile(stateFile), drift, now);
  writeLabStateFile(stateFile, next);
  return next;
}
