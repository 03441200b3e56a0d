import { z } from "zod";
import type { DriftCheckId } from "#catalog";
import { cleanLabState, hex64, labStorePath } from "./clean-state.ts";
import type { LabLuksVolume, LabState, LabUnit } from "./state.ts";
import { readLabStateFile, writeLabStateFile } from "./state-file.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const Unit = z.string().regex(/^[A-Za-z0-9@_.-]+\.service$/);
const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/);

type LabBackupJob = LabState["backups"][string];

/** What a drift's `apply` may ask of the state it changes; each lookup throws for a missing name. */
interface DriftTarget {
  unit(name: string): LabUnit;
  backup(job: string): LabBackupJob;
  volume(name: string): LabLuksVolume;
  /** The time `msAgo` before the drift, as ISO 8601. */
  iso(msAgo: number): string;
  readonly now: Date;
}

/** One drift kind: its parameters, what it does, and what the checks report for it. */
interface DriftSpec<P extends z.ZodRawShape> {
  readonly params: P;
  readonly description: string;
  /** An instance of the drift on the clean lab host (without its kind). */
  readonly example: z.input<z.ZodObject<P>>;
  /** Null: a fault of a tool, which makes the check using it an `error`, never a pass; or reset. */
  readonly detects: { readonly check: DriftCheckId; readonly finding: string } | null;
  /** Changes `s`, a copy of the state, in place, or returns the state that replaces it. */
  apply(s: LabState, drift: z.output<z.ZodObject<P>>, target: DriftTarget): LabState | undefined;
}

const spec = <P extends z.ZodRawShape>(s: DriftSpec<P>): DriftSpec<P> => s;

/**
 * Every change to the lab appliance that a check must notice (or a fault of a tool itself), in
 * one table: the `Drift` schema, the examples the tests inject and `applyDrift` come from it.
 */
export const DRIFT_KINDS = {
  service_stopped: spec({
    params: { unit: Unit },
    description: "a critical unit is stopped (inactive/dead)",
    example: { unit: "chronyd.service" },
    detects: { check: "services", finding: "unit_inactive" },
    apply: (_s, d, t) => {
      Object.assign(t.unit(d.unit), {
        active_state: "inactive",
        sub_state: "dead",
        main_pid: 0,
        changed_at: t.iso(0),
      });
    },
  }),
  service_failed: spec({
    params: { unit: Unit },
    description: "a critical unit has failed (Result=exit-code)",
    example: { unit: "auditd.service" },
    detects: { check: "services", finding: "unit_failed" },
    apply: (_s, d, t) => {
      Object.assign(t.unit(d.unit), {
        active_state: "failed",
        sub_state: "failed",
        result: "exit-code",
        main_pid: 0,
        changed_at: t.iso(0),
      });
    },
  }),
  service_crash_loop: spec({
    params: { unit: Unit, restarts: z.int().min(1).default(7) },
    description: "a critical unit is active but systemd restarted it many times",
    example: { unit: "sshd.service" },
    detects: { check: "services", finding: "unit_failed" },
    apply: (_s, d, t) => {
      t.unit(d.unit).n_restarts = d.restarts;
    },
  }),
  unneeded_service: spec({
    params: { unit: Unit.default("cups.service") },
    description: "a service the appliance has no use for runs (default cups.service)",
    example: {},
    detects: { check: "services", finding: "unexpected_service_enabled" },
    apply: (s, d, t) => {
      s.units[d.unit] = {
        load_state: "loaded",
        active_state: "active",
        sub_state: "running",
        result: "success",
        n_restarts: 0,
        cpu_usage_nsec: 1_000_000,
        unit_file_state: "enabled",
        main_pid: 3131,
        changed_at: t.iso(0),
        description: d.unit,
        type: "notify",
      };
    },
  }),
  sshd_password_auth: spec({
    params: {},
    description: "sshd accepts passwords (PasswordAuthentication yes)",
    example: {},
    detects: { check: "services", finding: "sshd_password_auth_enabled" },
    apply: (s) => {
      s.sshd.passwordauthentication = "yes";
    },
  }),
  sshd_root_login: spec({
    params: {},
    description: "sshd lets root log in with a key (PermitRootLogin prohibit-password)",
    example: {},
    detects: { check: "services", finding: "sshd_root_login_permitted" },
    apply: (s) => {
      s.sshd.permitrootlogin = "without-password"; // how sshd -T prints prohibit-password
    },
  }),
  sshd_log_level: spec({
    params: {},
    description: "sshd logs at INFO, without the key behind each login",
    example: {},
    detects: { check: "services", finding: "sshd_log_level_drift" },
    apply: (s) => {
      s.sshd.loglevel = "INFO";
    },
  }),
  sshd_no_idle_timeout: spec({
    params: {},
    description: "sshd has no ChannelTimeout, so idle sessions stay open",
    example: {},
    detects: { check: "services", finding: "sshd_idle_timeout_drift" },
    apply: (s) => {
      s.sshd.channeltimeout = "";
    },
  }),
  sshd_weak_crypto: spec({
    params: {},
    description: "sshd offers CBC/CTR ciphers and non-EtM MACs",
    example: {},
    detects: { check: "services", finding: "sshd_crypto_drift" },
    apply: (s) => {
      Object.assign(s.sshd, { ciphers: "aes256-ctr,aes128-cbc", macs: "hmac-sha2-256,hmac-sha1" });
    },
  }),
  generation_mismatch: spec({
    params: {},
    description: "someone switched to an unapproved generation (a new one, not rebooted)",
    example: {},
    detects: { check: "patching", finding: "generation_mismatch" },
    apply: (s, _d, t) => {
      const number = Math.max(...s.nixos.generations.map((g) => g.number)) + 1;
      s.nixos.generations.push({
        number,
        system: labStorePath(
          `system-${number}-unapproved`,
          `nixos-system-clinic-lab-${s.nixos.version}`,
        ),
        created_at: t.iso(0),
      });
      s.nixos.current = number;
    },
  }),
  generation_stale: spec({
    params: { days: z.int().min(1).default(45) },
    description: "the running generation's nixpkgs is older than the baseline allows",
    example: {},
    detects: { check: "patching", finding: "generation_stale" },
    apply: (s, d, t) => {
      const date = new Date(t.now.getTime() - d.days * DAY);
      const ymd = date.toISOString().slice(0, 10).replaceAll("-", "");
      s.nixos.version = s.nixos.version.replace(/\.\d{8}\./, `.${ymd}.`);
    },
  }),
  backup_failed: spec({
    params: { job: Name },
    description: "the last backup run failed (restic-backups-<job>.service failed)",
    example: { job: "clinic-data" },
    detects: { check: "backups", finding: "backup_failed" },
    apply: (_s, d, t) => {
      t.backup(d.job);
      Object.assign(t.unit(`restic-backups-${d.job}.service`), {
        active_state: "failed",
        sub_state: "failed",
        result: "exit-code",
        changed_at: t.iso(0),
      });
    },
  }),
  backup_stale: spec({
    params: { job: Name, hours: z.number().min(1).default(50) },
    description: "no snapshot newer than `hours` (default 50)",
    example: { job: "clinic-data" },
    detects: { check: "backups", finding: "backup_stale" },
    apply: (_s, d, t) => {
      const b = t.backup(d.job);
      const cutoff = t.now.getTime() - d.hours * HOUR;
      // The newest snapshot is then exactly `hours` old.
      b.snapshots = b.snapshots.filter((x) => Date.parse(x.time) < cutoff);
      const time = t.iso(d.hours * HOUR);
      b.snapshots.push({
        id: hex64(`snapshot-${time}`),
        time,
        tree: hex64(`tree-${time}`),
        paths: ["/var/lib/clinic"],
      });
    },
  }),
  restore_test_overdue: spec({
    params: { job: Name, days: z.number().min(1).default(9) },
    description: "the last passing test restore is `days` old (default 9)",
    example: { job: "clinic-data" },
    detects: { check: "backups", finding: "restore_test_overdue" },
    apply: (_s, d, t) => {
      const b = t.backup(d.job);
      b.restore_tests = b.restore_tests.map((r) => ({ ...r, finished_at: t.iso(d.days * DAY) }));
    },
  }),
  firewall_ssh_exposed: spec({
    params: {},
    description: "the SSH rule no longer limits the source network (tcp dport 22 accept)",
    example: {},
    detects: { check: "firewall", finding: "ssh_exposed" },
    apply: (s) => {
      const rule = firewallRules(s).find((r) => r.expr.some(matchesSshPort));
      if (!rule) throw new Error("the lab ruleset has no SSH rule");
      rule.expr = [
        { match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: 22 } },
        { accept: null },
      ];
    },
  }),
  firewall_egress_open: spec({
    params: {},
    description: "the output chain's policy is accept instead of drop",
    example: {},
    detects: { check: "firewall", finding: "egress_policy_drift" },
    apply: (s) => {
      const chain = s.nftables.nftables
        .map((o) => o.chain as Record<string, unknown> | undefined)
        .find((c) => c?.hook === "output");
      if (!chain) throw new Error("the lab ruleset has no output chain");
      chain.policy = "accept";
    },
  }),
  firewall_rule_reordered: spec({
    params: {},
    description: "the first two input rules swapped places (same rules, another order)",
    example: {},
    detects: { check: "firewall", finding: "inbound_policy_drift" },
    apply: (s) => {
      const list = s.nftables.nftables;
      const idx = list.flatMap((o, i) =>
        (o.rule as { chain?: string } | undefined)?.chain === "input" ? [i] : [],
      );
      const [a, b] = idx;
      if (a === undefined || b === undefined)
        throw new Error("the lab ruleset has fewer than two input rules");
      [list[a], list[b]] = [list[b] as Record<string, unknown>, list[a] as Record<string, unknown>];
    },
  }),
  audit_rules_cleared: spec({
    params: {},
    description: "the kernel holds no audit rules (auditctl -D)",
    example: {},
    detects: { check: "logging", finding: "audit_rules_missing" },
    apply: (s) => {
      s.audit.rules = [];
    },
  }),
  audit_disabled: spec({
    params: {},
    description: "kernel auditing is switched off (auditctl -e 0)",
    example: {},
    detects: { check: "logging", finding: "audit_rules_missing" },
    apply: (s) => {
      s.audit.enabled = 0;
    },
  }),
  journald_stopped: spec({
    params: {},
    description: "systemd-journald is stopped",
    example: {},
    detects: { check: "logging", finding: "journald_inactive" },
    apply: (_s, _d, t) => {
      Object.assign(t.unit("systemd-journald.service"), {
        active_state: "inactive",
        sub_state: "dead",
        main_pid: 0,
      });
    },
  }),
  journald_dropping: spec({
    params: {},
    description: "journald runs but drops messages (the canary never arrives)",
    example: {},
    detects: { check: "logging", finding: "journald_inactive" },
    apply: (s) => {
      s.journald.accepts_messages = false;
    },
  }),
  journald_volatile: spec({
    params: {},
    description: "journald.conf says Storage=volatile and /var/log/journal is gone",
    example: {},
    detects: { check: "logging", finding: "journald_not_persistent" },
    apply: (s) => {
      Object.assign(s.journald, { storage: "volatile", persistent_dir: false });
    },
  }),
  journal_oversize: spec({
    params: {},
    description: "the journal takes 3 GiB and SystemMaxUse is unset",
    example: {},
    detects: { check: "logging", finding: "journal_usage_high" },
    apply: (s) => {
      Object.assign(s.journald, { disk_usage_bytes: 3 * 1024 ** 3, system_max_use: null });
    },
  }),
  luks_volume_closed: spec({
    params: { volume: Name },
    description: "an expected LUKS volume is not open",
    example: { volume: "cryptdata" },
    detects: { check: "encryption", finding: "luks_volume_unencrypted" },
    apply: (_s, d, t) => {
      t.volume(d.volume).active = false;
    },
  }),
  swap_unencrypted: spec({
    params: {},
    description: "swap runs on the raw partition /dev/sda3, not through dm-crypt",
    example: {},
    detects: { check: "encryption", finding: "swap_unencrypted" },
    apply: (s) => {
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
    },
  }),
  luks_weak_cipher: spec({
    params: { volume: Name },
    description: "an expected LUKS volume uses aes-cbc-essiv:sha256 with a 256-bit key",
    example: { volume: "cryptroot" },
    detects: { check: "encryption", finding: "luks_volume_unencrypted" },
    apply: (_s, d, t) => {
      Object.assign(t.volume(d.volume), { cipher: "aes-cbc-essiv:sha256", key_size_bits: 256 });
    },
  }),
  disk_full: spec({
    params: { mount: z.string().startsWith("/") },
    description: "a mounted volume is 95 % full",
    example: { mount: "/var/lib/clinic" },
    detects: { check: "services", finding: "disk_usage_high" },
    apply: (s, d) => {
      const m = s.mounts.find((x) => x.target === d.mount);
      if (!m) throw new Error(`the lab has no mount ${d.mount}`);
      m.used_bytes = Math.floor(m.size_bytes * 0.95);
    },
  }),
  cpu_load_high: spec({
    params: { unit: Unit.default("auditd.service") },
    description: "the 15-minute load is 3 per core, `unit` (default auditd) using the most CPU",
    example: {},
    detects: { check: "services", finding: "cpu_load_high" },
    apply: (s, d, t) => {
      Object.assign(s.cpu, {
        load1: s.cpu.cores * 3,
        load5: s.cpu.cores * 3,
        load15: s.cpu.cores * 3,
      });
      t.unit(d.unit).cpu_usage_nsec = 86_400 * 1_000_000_000;
    },
  }),
  tool_missing: spec({
    params: { program: Name },
    description: "a program is not installed (not_found)",
    example: { program: "nft" },
    detects: null,
    apply: (s, d) => {
      s.faults.missing.push(d.program);
    },
  }),
  tool_hangs: spec({
    params: { program: Name },
    description: "a program never answers (the caller's timeout)",
    example: { program: "cryptsetup" },
    detects: null,
    apply: (s, d) => {
      s.faults.hang.push(d.program);
    },
  }),
  tool_garbled: spec({
    params: { program: Name },
    description: "a program prints output its parser must refuse",
    example: { program: "lsblk" },
    detects: null,
    apply: (s, d) => {
      s.faults.garble.push(d.program);
    },
  }),
  reset: spec({
    params: {},
    description: "back to the clean appliance (keeps hostname and MACs)",
    example: {},
    detects: null,
    apply: (s, _d, t) => ({ ...cleanLabState(t.now), hostname: s.hostname, macs: s.macs }),
  }),
};

type DriftKinds = typeof DRIFT_KINDS;
export type DriftKind = keyof DriftKinds;
type DriftSchema<K extends DriftKind> =
  DriftKinds[K] extends DriftSpec<infer P>
    ? z.ZodObject<{ kind: z.ZodLiteral<K> } & P, z.core.$strict>
    : never;
/** A drift as written by a caller (parameters with defaults may be left out). */
export type Drift = { [K in DriftKind]: z.input<DriftSchema<K>> }[DriftKind];
type ParsedDrift = { [K in DriftKind]: z.output<DriftSchema<K>> }[DriftKind];

/** The strict schema of a drift: `kind` and that kind's parameters, nothing else. */
const driftSchemas = Object.entries(DRIFT_KINDS).map(([kind, s]) =>
  z.strictObject({ kind: z.literal(kind), ...s.params }),
);
export const Drift = z.discriminatedUnion(
  "kind",
  driftSchemas as [(typeof driftSchemas)[number], ...typeof driftSchemas],
) as unknown as z.ZodType<ParsedDrift, Drift>;

/** The table's example of `kind`, as a drift to inject. */
export function driftExample<K extends DriftKind>(kind: K): Extract<Drift, { kind: K }> {
  return { kind, ...DRIFT_KINDS[kind].example } as Extract<Drift, { kind: K }>;
}

/** Applies one drift to a copy of `state`; throws when it names something the state lacks. */
export function applyDrift(state: LabState, input: Drift, now: Date = new Date()): LabState {
  const drift = Drift.parse(input);
  const s = structuredClone(state);
  const target: DriftTarget = {
    unit: (name) => found(s.units[name], `the lab has no unit ${name}`),
    backup: (job) => found(s.backups[job], `the lab has no backup job ${job}`),
    volume: (name) => found(s.luks[name], `the lab has no LUKS volume ${name}`),
    iso: (msAgo) => new Date(now.getTime() - msAgo).toISOString(),
    now,
  };
  // The parsed drift carries the parameters of its own kind's entry.
  const apply = DRIFT_KINDS[drift.kind].apply as DriftSpec<z.ZodRawShape>["apply"];
  return apply(s, drift, target) ?? s;
}

function found<T>(value: T | undefined, missing: string): T {
  if (value === undefined) throw new Error(missing);
  return value;
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
