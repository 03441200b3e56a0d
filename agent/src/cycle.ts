import type { AgentSettings, EvidenceEvent, Signer, VerificationKey } from "#protocol";
import { backoffDelay } from "#protocol";
import type { AgentDeps, HealingHooks } from "./deps.ts";
import { isAgentError } from "./errors.ts";
import { type ExecuteDeps, executeOrders, flushReports, untilAborted } from "./execute.ts";
import type { Journal, JournalIdentity } from "./journal.ts";
import type { FullJournalAlerts } from "./journal-alerts.ts";
import { describeError } from "./log.ts";
import { type AcceptedOrder, acceptedOrders, clip, pollOnce } from "./orders.ts";
import { pushEvidence } from "./push.ts";
import type { AgentStatus } from "./status.ts";
import type { Transport } from "./transport.ts";

export const HOUR_MS = 3_600_000;
/** Consecutive failed contacts after which the outage is recorded as an alert. */
const UNREACHABLE_ALERT_AFTER = 3;

/** What every step of a cycle works with; fixed for the run once the appliance is enrolled. */
export interface CycleEnv {
  readonly deps: AgentDeps;
  readonly journal: Journal;
  /** With the appliance's client certificate. */
  readonly transport: Transport;
  readonly ids: JournalIdentity;
  readonly pinnedKey: VerificationKey;
  /** The evidence key: it also cosigns each verified checkpoint as the log's witness. */
  readonly evidenceSigner: Signer;
  readonly settings: AgentSettings;
  readonly healing: HealingHooks | undefined;
  readonly executeDeps: ExecuteDeps;
  /** Updated by the steps; written to status.json after each cycle. */
  readonly status: AgentStatus;
  /** The poll interval and its jitter: the config's, else the enrollment's settings'. */
  readonly intervalMs: number;
  readonly jitter: number;
  readonly random: () => number;
  readonly fullJournal: FullJournalAlerts;
  /** The graceful stop, and the hard one that follows it after `shutdown_timeout_s`. */
  readonly stop: AbortSignal;
  readonly hard: AbortSignal;
  /** A fresh signal for one step: cut at `step_timeout_s` or by the hard stop. */
  stepSignal(): AbortSignal;
  /** Records a failed step (status, log, and a full journal's alert episode); never throws. */
  stepFailed(step: string, error: unknown): void;
}

/**
 * One cycle, as named steps in order: poll for orders, run the checks (and let the healer act),
 * execute the accepted orders, push evidence and reports, then settle the contact (schedule or
 * back off), prune, and record the cycle in the status. Each step isolates its own failure, so
 * checks and evidence go on while the control plane is unreachable. The returned function keeps
 * the schedule between cycles; cycles must not overlap.
 */
export function agentCycle(env: CycleEnv): () => Promise<void> {
  const schedule: Schedule = { nextContactAt: 0, lastPruneAt: 0 };
  return async () => {
    const started = env.deps.clock.now();
    const polled =
      started.getTime() >= schedule.nextContactAt ? await pollForOrders(env) : undefined;
    if (!env.stop.aborted) await runChecks(env);
    if (polled && polled.accepted.length > 0)
      await executeAccepted(env, await confirmAutomatic(env, polled.accepted));
    let contact = polled?.contact;
    if (contact === true && !env.stop.aborted) contact = await pushEvidenceAndReports(env);
    const now = env.deps.clock.now();
    if (contact !== undefined) settleContact(env, schedule, contact, now);
    pruneJournal(env, schedule, now);
    recordCycle(env.status, schedule, started, now);
  };
}

interface Schedule {
  /** Epoch ms before which the control plane is not contacted (0: at the next cycle). */
  nextContactAt: number;
  lastPruneAt: number;
}

/** Polls for signed orders and hands the signed L1 rule set it carries to the flywheel. */
async function pollForOrders(
  env: CycleEnv,
): Promise<{ contact: boolean; accepted: readonly AcceptedOrder[] }> {
  const { deps } = env;
  try {
    const outcome = await pollOnce(
      {
        journal: env.journal,
        transport: env.transport,
        clock: deps.clock,
        identity: env.ids,
        pinnedKey: env.pinnedKey,
        allowlist: deps.allowlist,
        agentVersion: deps.agentVersion,
        cosigner: env.evidenceSigner,
      },
      env.stepSignal(),
    );
    if (outcome.kind !== "orders") return { contact: true, accepted: [] };
    if (outcome.l1Rules !== undefined) {
      try {
        deps.l1Rules?.offer(outcome.l1Rules);
      } catch (error) {
        env.stepFailed("l1_rules", error);
      }
    }
    return { contact: true, accepted: outcome.accepted };
  } catch (error) {
    env.stepFailed("poll", error);
    return { contact: false, accepted: [] };
  }
}

/** Runs the checks, seals their results and lets the healer act on them. */
async function runChecks(env: CycleEnv): Promise<void> {
  const { deps, healing } = env;
  try {
    const signal = env.stepSignal();
    const results = await untilAborted(deps.checks.run(signal), signal);
    const sealed = env.journal.append(results, deps.clock.now());
    // Healing is bounded by each runbook's own timeout, not the step timeout.
    if (healing && !env.stop.aborted) await healing.afterChecks(sealed, env.hard);
    const refused = results.length > 0 ? env.fullJournal.hasRoom() : 0;
    if (refused > 0) deps.log.log("info", "journal has room again", { refused_writes: refused });
  } catch (error) {
    env.stepFailed("checks", error);
    if (!isAgentError(error, "disk_full")) {
      appendAlert(
        env,
        "checks",
        {
          code: "checks_failed",
          severity: "high",
          subject: "check_runner",
          message: clip(describeError(error)),
        },
        deps.clock.now(),
      );
    }
  }
}

/**
 * The checks (and the healer) run between the poll that delivered an order and its start, for
 * seconds: a kill switch or audit-only engaged meanwhile reaches the appliance only in a later
 * poll. So before it runs an automatic (L1/L2) order the agent polls once more, and that
 * verified response's withdrawals and suspension apply (orders.ts takes the withdrawn ones out
 * of the accepted list; the executor refuses automatic orders while suspended). Orders that
 * confirming poll delivers run too: nothing ran between their delivery and now. When no
 * verified answer comes (the control plane unreachable, a response refused), nothing newer can
 * be known and the orders run as the first poll accepted them.
 */
async function confirmAutomatic(
  env: CycleEnv,
  accepted: readonly AcceptedOrder[],
): Promise<readonly AcceptedOrder[]> {
  if (env.stop.aborted || accepted.every(({ order }) => order.tier === "L3")) return accepted;
  const confirmed = await pollForOrders(env);
  const still = new Set(acceptedOrders(env.journal).map((o) => o.id));
  return [...accepted, ...confirmed.accepted].filter(({ order }) => still.has(order.order_id));
}

/** Executes the orders this cycle's poll accepted, one at a time, bounded by the hard stop. */
async function executeAccepted(env: CycleEnv, accepted: readonly AcceptedOrder[]): Promise<void> {
  try {
    await executeOrders(env.executeDeps, accepted, env.hard);
  } catch (error) {
    env.stepFailed("execute", error);
  }
}

/** Pushes the unreceipted evidence, then the queued reports; false when contact was lost. */
async function pushEvidenceAndReports(env: CycleEnv): Promise<boolean> {
  const { deps, journal, transport } = env;
  try {
    // Evidence first: each report names the bundle that records it (evidence_seq).
    await pushEvidence(
      {
        journal,
        transport,
        clock: deps.clock,
        identity: env.ids,
        pinnedKey: env.pinnedKey,
        batchMax: env.settings.evidence_batch_max,
      },
      env.stepSignal(),
    );
    await flushReports({ journal, transport, log: deps.log }, env.stepSignal());
    return true;
  } catch (error) {
    env.stepFailed("push", error);
    return false;
  }
}

/**
 * After contact the next poll is due at the next cycle; after a failed one it backs off
 * exponentially, and the third failure in a row is recorded as an alert.
 */
function settleContact(env: CycleEnv, schedule: Schedule, contact: boolean, now: Date): void {
  const { status, deps } = env;
  if (contact) {
    status.contact_failures = 0;
    status.last_contact_at = now.toISOString();
    schedule.nextContactAt = 0;
    return;
  }
  status.contact_failures++;
  if (status.contact_failures === UNREACHABLE_ALERT_AFTER) {
    // Once per outage (DNS failure, no route, control plane down): the outage itself is
    // evidence; the queue keeps everything else until contact returns.
    appendAlert(
      env,
      "alert",
      {
        code: "control_plane_unreachable",
        severity: "medium",
        subject: "control_plane",
        message: clip(
          `no contact with the control plane for ${UNREACHABLE_ALERT_AFTER} attempts: ${status.last_error ?? "unknown"}`,
        ),
      },
      now,
    );
  }
  const wait = backoffDelay(
    status.contact_failures - 1,
    env.intervalMs,
    deps.config.max_backoff_s * 1000,
    env.jitter,
    env.random,
  );
  schedule.nextContactAt = now.getTime() + wait;
}

/** At most once an hour, drops receipted bundles older than the retention. */
function pruneJournal(env: CycleEnv, schedule: Schedule, now: Date): void {
  if (now.getTime() - schedule.lastPruneAt < HOUR_MS) return;
  try {
    env.journal.prune(new Date(now.getTime() - env.deps.config.retention_days * 24 * HOUR_MS));
    schedule.lastPruneAt = now.getTime();
  } catch (error) {
    env.stepFailed("prune", error);
  }
}

function recordCycle(status: AgentStatus, schedule: Schedule, started: Date, now: Date): void {
  status.cycles++;
  status.last_cycle_at = started.toISOString();
  status.last_cycle_ms = now.getTime() - started.getTime();
  status.next_contact_at = schedule.nextContactAt
    ? new Date(schedule.nextContactAt).toISOString()
    : null;
}

type Alert = Omit<Extract<EvidenceEvent, { kind: "alert" }>, "kind">;

/** Appends one alert bundle; a refused write counts as a failure of `step`. */
function appendAlert(env: CycleEnv, step: string, alert: Alert, at: Date): void {
  try {
    env.journal.append([{ kind: "alert", ...alert }], at);
  } catch (error) {
    env.stepFailed(step, error);
  }
}
