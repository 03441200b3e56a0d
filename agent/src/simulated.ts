import type { Order } from "#protocol";
import type { CheckRunner, RunbookExecutor } from "./ports.ts";

/**
 * Stand-ins for the real checks and runbook engine, for tests of the loop alone: they touch
 * nothing on the host. The executor records one healing step per order and
 * reports success; the check runner reports the given checks as passing.
 */
export function simulatedExecutor(executed: Order[] = []): RunbookExecutor {
  return {
    async execute(order, context) {
      executed.push(order);
      context.record({
        kind: "healing_step",
        runbook_id: order.runbook_id,
        runbook_version: 1,
        tier: order.tier,
        order_id: order.order_id,
        step: 0,
        action: "lab.simulated",
        phase: "step",
        outcome: "succeeded",
        duration_ms: 0,
        findings: [],
      });
      return { outcome: "succeeded", detail: "simulated (lab): nothing on the host was changed" };
    },
  };
}

export function simulatedChecks(checkIds: readonly string[] = ["services"]): CheckRunner {
  return {
    run: async () =>
      checkIds.map((check_id) => ({
        kind: "check_result" as const,
        check_id,
        status: "pass" as const,
        severity: "low" as const,
        findings: [],
        duration_ms: 0,
      })),
  };
}
