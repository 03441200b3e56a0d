import { join } from "node:path";
import { jitteredInterval } from "#protocol";
import { agentCycle, type CycleEnv, HOUR_MS } from "./cycle.ts";
import type { AgentDeps } from "./deps.ts";
import { isAgentError } from "./errors.ts";
import { recoverInterruptedOrder } from "./execute.ts";
import { openJournal } from "./journal.ts";
import { fullJournalAlerts } from "./journal-alerts.ts";
import { describeError, errorFields } from "./log.ts";
import { silentNotifier } from "./notify.ts";
import { LAST_ORDER_SEQ } from "./orders.ts";
import { type Started, startUp } from "./startup.ts";
import { type AgentStatus, initialStatus, writeStatus } from "./status.ts";

const L1_RULES_VERSION = "l1_rules_version";

/**
 * The agent: identity, enrollment, then cycles that never overlap (see agentCycle: poll for
 * orders, run the checks, execute accepted orders, push evidence and reports). Contact with the
 * control plane backs off exponentially while it is unreachable; checks and evidence go on
 * regardless. `stop` asks for a graceful end: the current step finishes (each step is cut at the
 * step timeout, and all are cut `shutdown_timeout_s` after stop), a `stopping` bundle is written
 * and the journal closed.
 */
export async function runAgent(deps: AgentDeps, stop: AbortSignal): Promise<AgentStatus> {
  const { config, clock, log } = deps;
  const notify = deps.notify ?? silentNotifier;
  const statusPath = join(config.state_dir, "status.json");
  const status = initialStatus(deps.agentVersion, process.pid);
  const hard = new AbortController();
  const onStop = () => setTimeout(() => hard.abort(), config.shutdown_timeout_s * 1000).unref();
  stop.addEventListener("abort", onStop, { once: true });
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
  const env = openRun(deps, started, status, stop, hard.signal);
  const { journal } = env;
  status.state = "running";
  recordStart(env, started.freshlyEnrolled);
  const cycle = agentCycle(env);

  const refreshStatus = () => {
    const head = journal.head();
    status.evidence_head_seq = head.seq;
    status.receipted_seq = journal.receiptedSeq();
    status.backlog = journal.backlog();
    status.last_order_seq = Number(journal.getState(LAST_ORDER_SEQ) ?? "0");
    status.healing = env.healing?.mode() ?? null;
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
      let wait =
        cycleStart +
        jitteredInterval(env.intervalMs, env.jitter, env.random) -
        clock.now().getTime();
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
      journal.append([lifecycle(deps, "stopping")], clock.now());
    } catch (error) {
      env.stepFailed("stop", error);
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

/**
 * Everything the cycles share, once the appliance is enrolled: the journal, the flywheel bound to
 * it, the mTLS transport, the poll schedule and the healer.
 */
function openRun(
  deps: AgentDeps,
  started: Started,
  status: AgentStatus,
  stop: AbortSignal,
  hard: AbortSignal,
): CycleEnv {
  const { config, clock, log } = deps;
  const { identity, pinnedKey, enrollment } = started;
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
  const healing = deps.healing?.({ journal, identity: ids, settings });
  const fullJournal = fullJournalAlerts(journal, clock);
  return {
    deps,
    journal,
    transport,
    ids,
    pinnedKey,
    evidenceSigner: identity.signer,
    settings,
    healing,
    executeDeps: {
      journal,
      clock,
      identity: ids,
      executor: healing?.executor ?? deps.executor,
      stepTimeoutMs: config.step_timeout_s * 1000,
      // The healer bounds each run by its runbook's timeout (at most 2 h in the catalog schema).
      ...(healing ? { orderTimeoutMs: 2 * HOUR_MS + config.step_timeout_s * 1000 } : {}),
      log,
    },
    status,
    intervalMs: (config.poll_interval_s ?? settings.poll_interval_s ?? 60) * 1000,
    jitter: config.poll_jitter ?? settings.poll_jitter ?? 0.1,
    random: deps.random ?? Math.random,
    fullJournal,
    stop,
    hard,
    stepSignal: () => AbortSignal.any([hard, AbortSignal.timeout(config.step_timeout_s * 1000)]),
    stepFailed: (step, error) => {
      status.last_error = `${step}: ${describeError(error)}`;
      log.log(
        isAgentError(error, "unreachable") ? "warn" : "error",
        `${step} failed`,
        errorFields(error),
      );
      if (isAgentError(error, "disk_full")) fullJournal.refused(step);
    },
  };
}

/**
 * The chain records each start (a fresh enrollment's chain begins with the appliance's signed
 * enrollment statement, then key_generated and enrolled), then an order cut short by a crash is reported as failed. A full journal does not
 * stop the agent: it is recorded as a failed step.
 */
function recordStart(env: CycleEnv, freshlyEnrolled: boolean): void {
  const { deps, journal } = env;
  try {
    journal.append(
      freshlyEnrolled && journal.head().seq === 0
        ? [
            // The appliance's own signed statement of its key id and the control-plane key it
            // pins: an auditor's trust root outside the MSP (the verifier checks it).
            {
              kind: "enrollment_statement" as const,
              key_id: env.evidenceSigner.keyId,
              control_plane_key_id: env.pinnedKey.keyId,
              agent_version: deps.agentVersion,
            },
            lifecycle(deps, "key_generated"),
            lifecycle(deps, "enrolled"),
            lifecycle(deps, "started"),
          ]
        : [lifecycle(deps, "started")],
      deps.clock.now(),
    );
    recoverInterruptedOrder(env.executeDeps);
  } catch (error) {
    if (!isAgentError(error, "disk_full")) throw error;
    env.stepFailed("start", error);
  }
}

function lifecycle(deps: AgentDeps, event: "key_generated" | "enrolled" | "started" | "stopping") {
  return { kind: "agent_lifecycle" as const, event, agent_version: deps.agentVersion };
}
