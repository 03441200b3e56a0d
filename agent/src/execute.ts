import {
  Acknowledgement,
  APPLIANCE_API,
  type Incident,
  type OrderResult,
  tryParseMessage,
} from "#protocol";
import { AgentError } from "./errors.ts";
import type { Journal, JournalIdentity } from "./journal.ts";
import { describeError, errorFields, type Logger } from "./log.ts";
import {
  ACCEPTED_ORDERS,
  type AcceptedOrder,
  acceptedOrders,
  clip,
  type OrderRef,
} from "./orders.ts";
import type { Clock, ExecutionOutcome, RunbookExecutor } from "./ports.ts";
import type { Transport } from "./transport.ts";

/**
 * Runs accepted orders through the runbook executor seam, one at a time, and records each
 * outcome as an order_result bundle plus a queued OrderResult report. While an order runs its id
 * is kept in the journal, so an order cut short by a crash is reported as failed on restart
 * instead of silently vanishing (its sequence number is consumed and it never runs twice).
 */
const IN_FLIGHT = "in_flight_order";

export interface ExecuteDeps {
  readonly journal: Journal;
  readonly clock: Clock;
  readonly identity: JournalIdentity;
  readonly executor: RunbookExecutor;
  readonly stepTimeoutMs: number;
  /**
   * The bound on one whole order, when the executor enforces each runbook's own timeout (the
   * healer does, and never cuts a rollback short); the step timeout otherwise.
   */
  readonly orderTimeoutMs?: number;
  readonly log: Logger;
}

export async function executeOrders(
  deps: ExecuteDeps,
  accepted: readonly AcceptedOrder[],
  stop: AbortSignal,
): Promise<void> {
  for (const { order } of accepted) {
    if (stop.aborted) {
      finish(
        deps,
        { id: order.order_id, seq: order.seq, runbook: order.runbook_id },
        "failed",
        0,
        "agent stopped before the order ran",
      );
      continue;
    }
    const ref = { id: order.order_id, seq: order.seq, runbook: order.runbook_id };
    deps.journal.setState(IN_FLIGHT, JSON.stringify(ref));
    const started = deps.clock.now().getTime();
    let outcome: ExecutionOutcome = "failed";
    let detail: string | undefined;
    const bound = deps.orderTimeoutMs ?? deps.stepTimeoutMs;
    const signal = AbortSignal.any([stop, AbortSignal.timeout(bound)]);
    try {
      const result = await untilAborted(
        deps.executor.execute(order, {
          signal,
          record: (event) => {
            deps.journal.append([event], deps.clock.now());
          },
        }),
        signal,
      );
      outcome = result.outcome;
      detail = result.detail;
    } catch (error) {
      detail = `executor failed: ${describeError(error)}`;
      deps.log.log("error", "runbook executor failed", {
        order_id: order.order_id,
        ...errorFields(error),
      });
    }
    finish(deps, ref, outcome, deps.clock.now().getTime() - started, detail);
  }
}

/**
 * On start: an order that was running when the agent died is reported as failed, and so is
 * every order accepted before the crash that had not started (never run after a crash).
 */
export function recoverInterruptedOrder(deps: ExecuteDeps): void {
  const raw = deps.journal.getState(IN_FLIGHT);
  const inFlight = raw ? (JSON.parse(raw) as OrderRef) : undefined;
  if (inFlight)
    finish(deps, inFlight, "failed", 0, "interrupted: the agent stopped while the order ran");
  for (const ref of acceptedOrders(deps.journal)) {
    if (ref.id !== inFlight?.id)
      finish(deps, ref, "failed", 0, "agent stopped before the order ran");
  }
}

function finish(
  deps: ExecuteDeps,
  ref: OrderRef,
  outcome: ExecutionOutcome,
  durationMs: number,
  detail: string | undefined,
): void {
  const now = deps.clock.now();
  deps.journal.transaction(() => {
    const [sealed] = deps.journal.append(
      [
        {
          kind: "order_result",
          order_id: ref.id,
          order_seq: ref.seq,
          runbook_id: ref.runbook,
          outcome,
          duration_ms: Math.max(0, durationMs),
        },
      ],
      now,
    );
    const report: OrderResult = {
      v: 1,
      type: "order_result",
      tenant_id: deps.identity.tenantId,
      appliance_id: deps.identity.applianceId,
      order_id: ref.id,
      order_seq: ref.seq,
      runbook_id: ref.runbook,
      outcome,
      ...(detail ? { detail: clip(detail) } : {}),
      evidence_seq: sealed?.head.seq ?? 1,
      finished_at: now.toISOString(),
    };
    deps.journal.enqueue("order_result", report);
    deps.journal.setState(IN_FLIGHT, "");
    const pending = acceptedOrders(deps.journal).filter((o) => o.id !== ref.id);
    deps.journal.setState(ACCEPTED_ORDERS, JSON.stringify(pending));
  });
}

/** Settles with `work`, or rejects as soon as `signal` aborts (a step that ignores its signal). */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AgentError("stopped", "step timed out or the agent stopped"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Sends queued reports (order results) oldest first. A 2xx with the right acknowledgement or a
 * 4xx the control plane will never accept removes the report (the evidence bundle stays the
 * record); anything else leaves it for the next cycle.
 */
export async function flushReports(
  deps: { journal: Journal; transport: Transport; log: Logger },
  signal: AbortSignal,
): Promise<number> {
  let sent = 0;
  for (const item of deps.journal.outbox(64)) {
    if (signal.aborted) break;
    // Incidents (from the healer) share the queue, so reports leave in the order they were made.
    const incident = item.kind === "incident" ? (item.body as Incident) : undefined;
    const report = item.body as OrderResult;
    const ref = incident ? incident.incident_id : report.order_id;
    const answer = incident
      ? await deps.transport.post(APPLIANCE_API.incident, incident, signal)
      : await deps.transport.post(APPLIANCE_API.orderResult, report, signal);
    if (answer.ok) {
      const ack = tryParseMessage(Acknowledgement, answer.body);
      if (!ack.ok || ack.value.ref !== ref) {
        throw new AgentError("bad_response", `${item.kind} acknowledgement does not match`);
      }
    } else if (answer.status >= 500 || answer.status === 429 || answer.status === 408) {
      throw new AgentError("unreachable", `${item.kind} answered ${answer.status}`);
    } else {
      deps.log.log("warn", `${item.kind} refused; evidence keeps the record`, {
        ref,
        status: answer.status,
        code: answer.problem?.code ?? null,
      });
    }
    deps.journal.dequeue(item.id);
    sent++;
  }
  return sent;
}
