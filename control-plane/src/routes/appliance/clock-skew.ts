import type { EvidenceBundle } from "#protocol";
import type { Services } from "../../env.ts";
import type { ApplianceRecord } from "../../store/index.ts";

/**
 * Evidence timestamps are the appliance's claim (docs/protocol.md, "Times"): a bundle is
 * evidence because of its chain and signature, so a bundle with an odd `recorded_at` is still
 * stored, but the control plane flags it instead of trusting the time blindly.
 *
 * - forward: `recorded_at` later than the control plane's receive time plus FUTURE_TOLERANCE_MS
 *   (the appliance clock runs ahead);
 * - backward: `recorded_at` earlier than the previous bundle's in the same chain (the appliance
 *   clock stepped back). A backlog queued during an outage is old but still in order: not flagged.
 *
 * One `evidence_clock_skew` alert per appliance per ALERT_INTERVAL_MS at most (an episode of a
 * wrong clock produces one alert an hour, not one per bundle).
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;
export const ALERT_INTERVAL_MS = 60 * 60_000;
export const CLOCK_SKEW_ALERT = "evidence_clock_skew";

export interface ClockSkewFinding {
  readonly kind: "forward" | "backward";
  readonly seq: number;
  /** How far off, in milliseconds (always positive). */
  readonly skewMs: number;
}

/** The bundles whose `recorded_at` cannot be taken at face value. */
export function findClockSkew(
  bundles: readonly EvidenceBundle[],
  previousRecordedAt: string | undefined,
  receivedAt: Date,
): ClockSkewFinding[] {
  const findings: ClockSkewFinding[] = [];
  let previous = previousRecordedAt === undefined ? Number.NaN : Date.parse(previousRecordedAt);
  for (const bundle of bundles) {
    const at = Date.parse(bundle.recorded_at);
    const ahead = at - receivedAt.getTime();
    if (ahead > FUTURE_TOLERANCE_MS) {
      findings.push({ kind: "forward", seq: bundle.seq, skewMs: ahead });
    } else if (at < previous) {
      findings.push({ kind: "backward", seq: bundle.seq, skewMs: previous - at });
    }
    previous = at;
  }
  return findings;
}

const describe = (f: ClockSkewFinding) =>
  f.kind === "forward"
    ? `seq ${f.seq}: recorded_at is ${Math.round(f.skewMs / 1000)} s ahead of the control plane's clock`
    : `seq ${f.seq}: recorded_at is ${Math.round(f.skewMs / 1000)} s earlier than the previous bundle's (the clock stepped back)`;

/** Records one alert for the findings of an upload, unless one was raised within the hour. */
export async function flagClockSkew(
  s: Services,
  appliance: Pick<ApplianceRecord, "tenantId" | "applianceId">,
  findings: readonly ClockSkewFinding[],
  now: Date,
): Promise<void> {
  const first = findings[0];
  if (!first) return;
  const { tenantId, applianceId } = appliance;
  s.metrics.inc(
    "cp_evidence_clock_skew_total",
    "Evidence bundles whose recorded_at was flagged (ahead of the control plane or stepped back).",
    findings.length,
  );
  const since = now.getTime() - ALERT_INTERVAL_MS;
  const recent = (await s.store.listAlerts(tenantId)).some(
    (a) =>
      a.applianceId === applianceId &&
      a.code === CLOCK_SKEW_ALERT &&
      Date.parse(a.createdAt) > since,
  );
  s.logger.log("warn", "evidence timestamps flagged", {
    tenant_id: tenantId,
    appliance_id: applianceId,
    bundles: findings.length,
    first_seq: first.seq,
    alerted: !recent,
  });
  if (recent) return;
  const more = findings.length > 1 ? ` (${findings.length} bundles flagged in this upload)` : "";
  await s.store.recordAlert({
    tenantId,
    applianceId,
    code: CLOCK_SKEW_ALERT,
    detail: `appliance ${applianceId} ${describe(first)}${more}`,
    createdAt: now.toISOString(),
  });
}
