import { z } from "zod";
import {
  ApplianceId,
  ChainHead,
  CheckId,
  Finding,
  ProtocolVersion,
  RunbookId,
  Severity,
  TenantId,
  Timestamp,
  Uuid,
} from "./common.ts";

/**
 * Appliance → control plane: drift that no local L1 rule healed. The control plane takes it
 * to its own L1 rules, the L2 planner or an L3 human. `evidence` points at the bundle that
 * recorded the drift, so every decision traces back to signed evidence.
 */
export const Incident = z.strictObject({
  v: ProtocolVersion,
  type: z.literal("incident"),
  incident_id: Uuid,
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  check_id: CheckId,
  severity: Severity,
  detected_at: Timestamp,
  findings: z.array(Finding).min(1).max(64),
  evidence: ChainHead,
  local_l1: z.discriminatedUnion("attempted", [
    z.strictObject({ attempted: z.literal(false), why_not: z.string().max(200) }),
    z.strictObject({
      attempted: z.literal(true),
      runbook_id: RunbookId,
      outcome: z.enum(["failed", "rolled_back"]),
    }),
  ]),
});
export type Incident = z.infer<typeof Incident>;
