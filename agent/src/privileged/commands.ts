import { type Baseline, PARAM_KINDS, unitAllowed } from "#catalog";
import type { ExpectedHost } from "../config.ts";
import { nftRestoreDocument } from "../healing/actions/host-actions.ts";
import { SWITCH_COMMAND, SYSTEM_PROFILE } from "../healing/actions/nixos.ts";

/**
 * The fixed table of commands that need root. The agent's Host adapter routes exactly the argv
 * that match a shape here to the privileged helper (and runs everything else itself, unprivileged);
 * the helper matches the same table again and re-validates every variable part against its own
 * config and baseline before it runs anything, without a shell. One table, two uses: a command
 * the agent may route is by construction one the helper knows, and nothing else can reach root.
 */
export interface PrivilegedPolicy {
  readonly baseline: Pick<Baseline, "allowed_units">;
  readonly host: ExpectedHost;
  /** The baseline ruleset file's text (read by the helper itself), for nft -j -f -. */
  readBaselineRuleset(path: string): Promise<string | undefined>;
  /** Store paths of the system profile's existing generations. */
  systemGenerations(): Promise<readonly string[]>;
}

export interface PrivilegedCommand {
  readonly id: string;
  readonly shape: string;
  /** Whether argv has this command's shape (routing; no policy needed). */
  matches(argv: readonly string[]): boolean;
  /** Null when this concrete call is allowed, else why not. */
  validate(
    argv: readonly string[],
    stdin: string | undefined,
    policy: PrivilegedPolicy,
  ): Promise<string | null>;
}

const RESTORE_TEST = /^compliance-restore-test@([1-9][0-9]{0,3})-([a-z][a-z0-9-]{0,62})\.service$/;
const BACKUP_UNIT = /^restic-backups-([a-z][a-z0-9-]{0,62})\.service$/;
const STORE_SYSTEM = /^\/nix\/store\/[0-9a-z]{32}-[^/]+$/;
const SIZE = PARAM_KINDS.size.schema;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

const noStdin = (stdin: string | undefined) => (stdin === undefined ? null : "takes no input");

function exact(id: string, argv: readonly string[]): PrivilegedCommand {
  return {
    id,
    shape: argv.join(" "),
    matches: (a) => a.length === argv.length && a.every((x, i) => x === argv[i]),
    validate: async (_a, stdin) => noStdin(stdin),
  };
}

function unitVerb(verb: "restart" | "start" | "reset-failed"): PrivilegedCommand {
  return {
    id: `systemctl.${verb}`,
    shape: `systemctl ${verb} <allowed unit>`,
    matches: (a) => a.length === 3 && a[0] === "systemctl" && a[1] === verb,
    async validate(a, stdin, policy) {
      const unit = a[2] as string;
      if (verb === "start") {
        const test = RESTORE_TEST.exec(unit);
        if (test) {
          return policy.host.backup_jobs.includes(test[2] as string) && Number(test[1]) <= 1000
            ? noStdin(stdin)
            : `${unit}: not a configured backup job`;
        }
        const backup = BACKUP_UNIT.exec(unit);
        if (backup && !policy.host.backup_jobs.includes(backup[1] as string)) {
          return `${unit}: not a configured backup job`;
        }
      }
      return unitAllowed(policy.baseline, unit)
        ? noStdin(stdin)
        : `${unit} is not an allowed unit of the baseline`;
    },
  };
}

export const PRIVILEGED_COMMANDS: readonly PrivilegedCommand[] = [
  unitVerb("restart"),
  unitVerb("start"),
  unitVerb("reset-failed"),
  {
    id: "journald.vacuum",
    shape: "journalctl --vacuum-size=<size>",
    matches: (a) =>
      a.length === 2 && a[0] === "journalctl" && a[1]?.startsWith("--vacuum-size=") === true,
    async validate(a, stdin) {
      const size = (a[1] as string).slice("--vacuum-size=".length);
      return SIZE.safeParse(size).success ? noStdin(stdin) : "size must look like 512M or 2G";
    },
  },
  exact("nftables.list", ["nft", "-j", "list", "ruleset"]),
  exact("audit.rules", ["auditctl", "-l"]),
  exact("audit.status", ["auditctl", "-s"]),
  {
    id: "nftables.restore_baseline",
    shape: "nft -j -f - (stdin: the baseline ruleset, flushed first)",
    matches: (a) =>
      a.length === 4 && a[0] === "nft" && a[1] === "-j" && a[2] === "-f" && a[3] === "-",
    async validate(_a, stdin, policy) {
      const path = policy.host.firewall_ruleset_path;
      if (path === undefined) return "no baseline ruleset is configured";
      const text = await policy.readBaselineRuleset(path);
      const expected = text === undefined ? undefined : nftRestoreDocument(text);
      if (expected === undefined) return "the baseline ruleset is missing or not nft JSON";
      return stdin === expected ? null : "input is not the baseline ruleset";
    },
  },
  {
    id: "cryptsetup.status",
    shape: "cryptsetup status <configured LUKS volume>",
    matches: (a) => a.length === 3 && a[0] === "cryptsetup" && a[1] === "status",
    async validate(a, stdin, policy) {
      const name = a[2] as string;
      return NAME.test(name) && policy.host.luks_volumes.includes(name)
        ? noStdin(stdin)
        : `${name} is not a configured LUKS volume`;
    },
  },
  {
    id: "nixos.set_profile",
    shape: `nix-env -p ${SYSTEM_PROFILE} --set <expected system or existing generation>`,
    matches: (a) =>
      a.length === 5 &&
      a[0] === "nix-env" &&
      a[1] === "-p" &&
      a[2] === SYSTEM_PROFILE &&
      a[3] === "--set",
    async validate(a, stdin, policy) {
      const path = a[4] as string;
      if (!STORE_SYSTEM.test(path)) return "not a Nix store path";
      const known =
        path === policy.host.expected_system || (await policy.systemGenerations()).includes(path);
      return known ? noStdin(stdin) : "neither the expected system nor an existing generation";
    },
  },
  {
    id: "nixos.delete_generations",
    shape: `nix-env -p ${SYSTEM_PROFILE} --delete-generations +<2..100>`,
    matches: (a) =>
      a.length === 5 &&
      a[0] === "nix-env" &&
      a[1] === "-p" &&
      a[2] === SYSTEM_PROFILE &&
      a[3] === "--delete-generations",
    async validate(a, stdin) {
      const keep = /^\+([1-9][0-9]{0,2})$/.exec(a[4] as string);
      return keep && PARAM_KINDS.generation_count.schema.safeParse(Number(keep[1])).success
        ? noStdin(stdin)
        : "keep must be +2 to +100";
    },
  },
  exact("nix.gc", ["nix-store", "--gc"]),
  {
    id: "restic.snapshots",
    shape: "restic-<job> snapshots --json --latest 1",
    matches: (a) =>
      a.length === 5 &&
      /^restic-[a-z][a-z0-9-]{0,62}$/.test(a[0] ?? "") &&
      a.slice(1).join(" ") === "snapshots --json --latest 1",
    async validate(a, stdin, policy) {
      const job = (a[0] as string).slice("restic-".length);
      return policy.host.backup_jobs.includes(job)
        ? noStdin(stdin)
        : `${job} is not a configured backup job`;
    },
  },
  exact("nixos.switch", [SWITCH_COMMAND, "switch"]),
];

/** The table entry whose shape argv has, if any (the agent routes these to the helper). */
export function privilegedCommand(argv: readonly string[]): PrivilegedCommand | undefined {
  return PRIVILEGED_COMMANDS.find((command) => command.matches(argv));
}
