import type { AgentSettings, SealedBundle } from "#protocol";
import type { AgentConfig } from "./config.ts";
import type { FlywheelRules } from "./flywheel/index.ts";
import type { Journal, JournalIdentity } from "./journal.ts";
import type { Logger } from "./log.ts";
import type { Notifier } from "./notify.ts";
import type { CheckRunner, Clock, Host, RunbookAllowlist, RunbookExecutor } from "./ports.ts";
import type { Transport } from "./transport.ts";

/** Everything the agent is given: its config and the seams to the machine and the network. */
export interface AgentDeps {
  readonly config: AgentConfig;
  readonly agentVersion: string;
  readonly clock: Clock;
  readonly host: Host;
  readonly log: Logger;
  /**
   * A plain line for the appliance's console, for the person in front of it (stderr, which the
   * unit also sends to the console): the evidence key id at enrollment.
   */
  readonly console?: (line: string) => void;
  /** Without a client certificate (enrollment) or with one (every other route). */
  readonly transport: (client?: { keyPem: string; certPem: string }) => Transport;
  readonly checks: CheckRunner;
  readonly executor: RunbookExecutor;
  readonly allowlist: RunbookAllowlist;
  readonly notify?: Notifier;
  readonly random?: () => number;
  /** Stop after this many cycles (tests, benchmarks); unbounded by default. */
  readonly maxCycles?: number;
  /** Send WATCHDOG=1 at least this often while idle (half of systemd's WatchdogSec). */
  readonly watchdogMs?: number;
  /** The flywheel's signed L1 rule sets (the healer's L1RuleSource); fed from each poll. */
  readonly l1Rules?: FlywheelRules;
  /**
   * The healer (L1 rules after each round of checks, and the executor of signed orders), built
   * once the journal is open; without it, orders go to `executor` and drift is only recorded.
   */
  readonly healing?: (env: HealingEnv) => HealingHooks;
}

export interface HealingEnv {
  readonly journal: Journal;
  readonly identity: JournalIdentity;
  readonly settings: AgentSettings;
}

export interface HealingHooks {
  readonly executor: RunbookExecutor;
  /** For status.json: paused by the kill switch, audit-only, or acting. */
  mode(): "enforce" | "audit" | "paused";
  afterChecks(sealed: readonly SealedBundle[], signal: AbortSignal): Promise<void>;
}
