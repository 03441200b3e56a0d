import { join } from "node:path";
import type { AgentSettings, SealedBundle } from "#protocol";
import { backoffDelay, jitteredInterval } from "./backoff.ts";
import type { AgentConfig } from "./config.ts";
import { isAgentError } from "./errors.ts";
import { executeOrders, flushReports, recoverInterruptedOrder, untilAborted } from "./execute.ts";
import type { FlywheelRules } from "./flywheel/index.ts";
import { type Journal, type JournalIdentity, openJournal } from "./journal.ts";
import { fullJournalAlerts } from "./journal-alerts.ts";
import { describeError, errorFields, type Logger } from "./log.ts";
import { type Notifier, silentNotifier } from "./notify.ts";
import { type AcceptedOrder, clip, LAST_ORDER_SEQ, pollOnce } from "./orders.ts";
import type { CheckRunner, Clock, Host, RunbookAllowlist, RunbookExecutor } from "./ports.ts";
import { pushEvidence } from "./push.ts";
import { startUp } from "./startup.ts";
import { type AgentStatus, initialStatus, writeStatus } from "./status.ts";
import type { Transport } from "./transport.ts";

export interface AgentDeps {
  readonly config: AgentConfig;
  readonly agentVersion: string;
  readonly clock: Clock;
  readonly host: Host;
  readonly log: Logger;
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

const HOUR_MS = 3_600_000;
const L1_RULES_VERSION = "l1_rules_version";

/**
 * The agent: identity, enrollment, then cycles that never overlap: poll for orders, run the
 * checks, execute accepted orders, report, push evidence. Contact with the control plane backs
 * off exponentially while it is unreachable; checks and evidence go on regardless. `stop` asks
 * for a graceful end: the current step finishes (each step is cut at the step timeout, and all
 * are cut `shutdown_timeout_s` after stop), a `stopping` bundle is written and the journal closed.
 */
export async function runAgent(deps: AgentDeps, stop: AbortSignal): Promise<AgentStatus> {
  const { config, clock, log } = deps;
  const notify = deps.notify ?? silentNotifier;
  const random = deps.random ?? Math.random;
  const statusPath = join(config.state_dir, "status.json");
  const status = initialStatus(deps.agentVersion, process.pid);
  const hard = new AbortController();
  const onStop = () => setTimeout(() => hard.abort(), config.shutdown_timeout_s * 1000).unref();
  stop.addEventListener("abort", onStop, { once: true });
  const stepSignal = () =>
    AbortSignal.any([hard.signal, AbortSignal.timeout(config.step_timeout_s * 1000)]);
  const ping = () => {
    notify("WATCHDOG=1").catch((e) => log.log("warn", "watchdog notify failed", errorFields(e)));
  };

  // Ready once the config is usable: a pending enrollment may wait for hours.
  notify("READY=1").catch((e) => log.log("warn", "ready notify failed", errorFields(e)));
  const started = await startUp(deps, stop, (fingerprint) => {
    Object.assign(status, { state: "enrolling", evidence_key_fingerprint: fingerprint });
    writeStatus(statusPath, status);
  });
  if (started === null) {
    status.state = "stopped";
    writeStatus(statusPath, status);
    return status;
  }
  const { identity, pinnedKey, enrollment, freshlyEnrolled } = started;
  status.evidence_key_fingerprint = identity.fingerprint;

  const ids = { tenantId: enrollment.tenant_id, applianceId: enrollment.appliance_id };
  Object.assign(status, { tenant_id: ids.tenantId, appliance_id: ids.applianceId });
  const journal = openJournal(join(config.state_dir, "journal.sqlite"), ids, identity.signer, {
    maxBytes: config.journal_max_mb * 1024 * 1024,
  });
  deps.l1Rules?.bind({
    key: pinnedKey,
    ...ids,
    record: (events) => journal.append(events, clock.now()),
    highWater: {
      get: () => Number(journal.getState(L1_RULES_VERSION) ?? "0"),
      set: (version) => journal.setState(L1_RULES_VERSION, String(version)),
    },
  });
  const transport = deps.transport({
    keyPem: identity.tlsKeyPem,
    certPem: enrollment.clientCertPem,
  });
  const settings = enrollment.settings;
  const intervalMs = (config.poll_interval_s ?? settings.poll_interval_s ?? 60) * 1000;
  const jitter = config.poll_jitter ?? settings.poll_jitter ?? 0.1;
  const healing = deps.healing?.({ journal, identity: ids, settings });
  const executeDeps = {
    journal,
    clock,
    identity: ids,
    executor: healing?.executor ?? deps.executor,
    stepTimeoutMs: config.step_timeout_s * 1000,
    // The healer bounds each run by its runbook's timeout (at most 2 h in the catalog schema).
    ...(healing ? { orderTimeoutMs: 2 * HOUR_MS + config.step_timeout_s * 1000 } : {}),
    log,
  };
  const lifecycle = (event: "key_generated" | "enrolled" | "started" | "stopping") => ({
    kind: "agent_lifecycle" as const,
    event,
    agent_version: deps.agentVersion,
  });

  status.state = "running";

  let nextContactAt = 0;
  /** Consecutive failed contacts after which the outage is recorded as an alert. */
  const UNREACHABLE_ALERT_AFTER = 3;
  let lastPruneAt = 0;
  const fullJournal = fullJournalAlerts(journal, clock);
  const stepFailed = (step: string, error: unknown) => {
    status.last_error = `${step}: ${describeError(error)}`;
    log.log(
      isAgentError(error, "unreachable") ? "warn" : "error",
      `${step} failed`,
      errorFields(error),
    );
    if (isAgentError(error, "disk_full")) fullJournal.refused(step);
  };

  try {
    journal.append(
      freshlyEnrolled && journal.head().seq === 0
        ? [lifecycle("key_generated"), lifecycle("enrolled"), lifecycle("started")]
        : [lifecycle("started")],
      clock.now(),
    );
    recoverInterruptedOrder(executeDeps);
  } catch (error) {
    if (!isAgentError(error, "disk_full")) throw error;
    stepFailed("start", error);
  }

  async function cycle(): Promise<void> {
    const started = clock.now();
    let accepted: readonly AcceptedOrder[] = [];
    let contact: boolean | null = null;
    if (started.getTime() >= nextContactAt) {
      try {
        const outcome = await pollOnce(
          {
            journal,
            transport,
            clock,
            identity: ids,
            pinnedKey,
            allowlist: deps.allowlist,
            agentVersion: deps.agentVersion,
          },
          stepSignal(),
        );
        contact = true;
        if (outcome.kind === "orders") accepted = outcome.accepted;
        if (outcome.kind === "orders" && outcome.l1Rules !== undefined) {
          try {
            deps.l1Rules?.offer(outcome.l1Rules);
          } catch (error) {
            stepFailed("l1_rules", error);
          }
        }
      } catch (error) {
        contact = false;
        stepFailed("poll", error);
      }
    }
    if (!stop.aborted) {
      try {
        const signal = stepSignal();
        const results = await untilAborted(deps.checks.run(signal), signal);
        const sealed = journal.append(results, clock.now());
        // Healing is bounded by each runbook's own timeout, not the step timeout.
        if (healing && !stop.aborted) await healing.afterChecks(sealed, hard.signal);
        const refused = results.length > 0 ? fullJournal.hasRoom() : 0;
        if (refused > 0) log.log("info", "journal has room again", { refused_writes: refused });
      } catch (error) {
        stepFailed("checks", error);
        if (!isAgentError(error, "disk_full")) {
          try {
            journal.append(
              [
                {
                  kind: "alert",
                  code: "checks_failed",
                  severity: "high",
                  subject: "check_runner",
                  message: clip(describeError(error)),
                },
              ],
              clock.now(),
            );
          } catch (inner) {
            stepFailed("checks", inner);
          }
        }
      }
    }
    if (accepted.length > 0) {
      try {
        await executeOrders(executeDeps, accepted, hard.signal);
      } catch (error) {
        stepFailed("execute", error);
      }
    }
    if (contact === true && !stop.aborted) {
      try {
        // Evidence first: each report names the bundle that records it (evidence_seq).
        await pushEvidence(
          {
            journal,
            transport,
            clock,
            identity: ids,
            pinnedKey,
            batchMax: settings.evidence_batch_max,
          },
          stepSignal(),
        );
        await flushReports({ journal, transport, log }, stepSignal());
      } catch (error) {
        contact = false;
        stepFailed("push", error);
      }
    }
    const now = clock.now();
    if (contact === true) {
      status.contact_failures = 0;
      status.last_contact_at = now.toISOString();
      nextContactAt = 0;
    } else if (contact === false) {
      status.contact_failures++;
      if (status.contact_failures === UNREACHABLE_ALERT_AFTER) {
        // Once per outage (DNS failure, no route, control plane down): the outage itself is
        // evidence; the queue keeps everything else until contact returns.
        try {
          journal.append(
            [
              {
                kind: "alert",
                code: "control_plane_unreachable",
                severity: "medium",
                subject: "control_plane",
                message: clip(
                  `no contact with the control plane for ${UNREACHABLE_ALERT_AFTER} attempts: ${status.last_error ?? "unknown"}`,
                ),
              },
            ],
            now,
          );
        } catch (error) {
          stepFailed("alert", error);
        }
      }
      const wait = backoffDelay(
        status.contact_failures - 1,
        intervalMs,
        config.max_backoff_s * 1000,
        jitter,
        random,
      );
      nextContactAt = now.getTime() + wait;
    }
    if (now.getTime() - lastPruneAt >= HOUR_MS) {
      try {
        journal.prune(new Date(now.getTime() - config.retention_days * 24 * HOUR_MS));
        lastPruneAt = now.getTime();
      } catch (error) {
        stepFailed("prune", error);
      }
    }
    status.cycles++;
    status.last_cycle_at = started.toISOString();
    status.last_cycle_ms = now.getTime() - started.getTime();
    status.next_contact_at = nextContactAt ? new Date(nextContactAt).toISOString() : null;
  }

  const refreshStatus = () => {
    const head = journal.head();
    status.evidence_head_seq = head.seq;
    status.receipted_seq = journal.receiptedSeq();
    status.backlog = journal.backlog();
    status.last_order_seq = Number(journal.getState(LAST_ORDER_SEQ) ?? "0");
    status.healing = healing?.mode() ?? null;
    try {
      writeStatus(statusPath, status);
    } catch (error) {
      log.log("warn", "status file not written", errorFields(error));
    }
  };

  try {
    while (!stop.aborted && (deps.maxCycles === undefined || status.cycles < deps.maxCycles)) {
      const cycleStart = clock.now().getTime();
      await cycle();
      refreshStatus();
      ping();
      if (deps.maxCycles !== undefined && status.cycles >= deps.maxCycles) break;
      // Cycles never overlap: the next starts one jittered interval after this one started.
      let wait = cycleStart + jitteredInterval(intervalMs, jitter, random) - clock.now().getTime();
      while (wait > 0 && !stop.aborted) {
        const chunk = deps.watchdogMs ? Math.min(wait, deps.watchdogMs) : wait;
        await clock.sleep(chunk, stop);
        wait -= chunk;
        if (deps.watchdogMs) ping();
      }
    }
  } finally {
    status.state = "stopping";
    notify("STOPPING=1").catch(() => {});
    try {
      journal.append([lifecycle("stopping")], clock.now());
    } catch (error) {
      stepFailed("stop", error);
    }
    refreshStatus();
    journal.close();
    stop.removeEventListener("abort", onStop);
    status.state = "stopped";
    writeStatus(statusPath, status);
    log.log("info", "agent stopped", { backlog: status.backlog, head: status.evidence_head_seq });
  }
  return status;
}
