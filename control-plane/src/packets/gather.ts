import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  allToggles,
  type Catalog,
  type ClientException,
  DRIFT_CHECKS,
  evaluateExceptions,
  loadCatalog,
} from "#catalog";
import {
  type CheckStateLine,
  CheckStatesAsOf,
  DecisionRecord,
  type EvidenceEvent,
  Incident,
  keyId,
  publicKeyFromBase64,
  type Signer,
  verificationKey,
} from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { Store } from "../store/index.ts";
import { scanChain } from "./chain-scan.ts";
import { monthRange } from "./month.ts";
import {
  APPLIANCE_L1,
  type Attribution,
  attributeOrder,
  decisionsByOrder,
  OrderLedger,
  type OrderRow,
  orderActors,
} from "./orders.ts";
import {
  type Coverage,
  CoverageTracker,
  type EvidenceRef,
  type FindingRow,
  FindingTracker,
} from "./timeline.ts";
import { checkpointCosigned } from "./witness.ts";

/**
 * Everything one month's packet states, gathered from the Store for one tenant (a site) and
 * the catalog. Counts are over evidence the control plane RECEIVED in the month (its own clock,
 * the one the vault and exports use), never the appliance's clock.
 */
type CheckEvent = Extract<EvidenceEvent, { kind: "check_result" }>;

export interface CheckRate {
  readonly checkId: string;
  readonly runs: number;
  readonly pass: number;
  readonly drift: number;
  readonly other: number;
}

/** One healing attempt the appliance recorded, with who decided it. */
export interface Remediation {
  readonly applianceId: string;
  readonly at: string;
  readonly tier: string;
  readonly checkId: string;
  readonly runbookId: string;
  readonly outcome: string;
  readonly attribution: Attribution;
  readonly orderId: string | null;
  readonly detail: string;
  readonly ref: EvidenceRef;
}

/** The period a packet covers: a whole month, or the month so far (partial). */
export interface Period {
  readonly from: string;
  readonly to: string;
  /** Where the packet's facts stop: the end of the month, or the generation time if earlier. */
  readonly end: string;
  readonly partial: boolean;
}

export interface ApplianceIntegrity {
  readonly applianceId: string;
  readonly bundlesInMonth: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly chainHeadSeq: number;
  readonly chainVerified: boolean;
  readonly chainDetail: string;
  readonly checkpointTreeSize: number | null;
  readonly checkpointRoot: string | null;
  /** The appliance's evidence key id, for the clinic to confirm against its enrollment record. */
  readonly evidenceKeyId: string;
  /** Whether the appliance cosigned the latest checkpoint as the log's witness. */
  readonly checkpointCosigned: boolean;
  /** Each check's state at the end of the period, from the verified chain (empty if broken). */
  readonly endOfPeriod: readonly CheckStateLine[];
  readonly archivedObjects: readonly { key: string; archive: string; versionId: string | null }[];
  readonly pendingObjects: number;
  /** Bundles of the chain with no archived copy at generation time (not yet in an archived segment). */
  readonly pendingBundles: number;
  readonly archivedBundles: number;
}

export interface PacketData {
  readonly tenantId: string;
  readonly month: string;
  readonly period: Period;
  readonly generatedAt: string;
  readonly baseline: { id: string; version: number; title: string };
  readonly toggles: readonly {
    id: string;
    area: string;
    title: string;
    value: string;
    citations: string;
  }[];
  readonly controls: readonly {
    citation: string;
    title: string;
    requirement: string;
    coverage: string;
    checks: string;
  }[];
  readonly appliances: readonly string[];
  /** What each appliance said of itself at enrollment (hostname: appliance-provided text). */
  readonly applianceInfo: readonly {
    applianceId: string;
    hostname: string;
    agentVersion: string;
    status: string;
    enrolledAt: string;
  }[];
  readonly checkRates: readonly CheckRate[];
  /** The same figures per appliance. */
  readonly applianceRates: readonly (CheckRate & { applianceId: string })[];
  readonly findings: readonly FindingRow[];
  readonly coverage: readonly Coverage[];
  readonly remediations: readonly Remediation[];
  /** Every order issued in the period and every order an appliance refused then. */
  readonly orders: readonly OrderRow[];
  readonly incidents: readonly {
    incidentId: string;
    applianceId: string;
    checkId: string;
    detectedAt: string;
    status: string;
    localL1: string;
  }[];
  readonly decisions: readonly {
    at: string;
    applianceId: string;
    incidentId: string;
    tier: string;
    outcome: string;
    decidedBy: string;
    runbookId: string;
    reason: string;
    note: string;
    model: string;
  }[];
  readonly exceptions: readonly {
    toggle: string;
    risk: string;
    reason: string;
    compensatingControl: string;
    owner: string;
    approvedOn: string;
    expiresOn: string;
    approvedBy: string;
    expired: boolean;
  }[];
  readonly exceptionsSource: string;
  readonly backups: {
    runs: number;
    pass: number;
    findings: readonly { code: string; count: number }[];
  };
  readonly integrity: readonly ApplianceIntegrity[];
  /** Which version of the month's packet this is (set when it is generated, not gathered). */
  readonly edition?: {
    readonly version: number;
    readonly previousManifestSha256: string | null;
    readonly reason: string | null;
  };
  /** The key id of the control-plane key that signs this packet's manifest and every checkpoint. */
  readonly controlPlaneKeyId?: string;
  readonly archiveKind: string;
  readonly counts: PacketCounts;
}

export interface PacketCounts {
  readonly bundles: number;
  readonly check_results: number;
  readonly healing_attempts: number;
  readonly incidents: number;
  readonly decisions: number;
}

export interface GatherDeps {
  readonly store: Store;
  readonly catalogDir: string;
  /** The vault's archive kind ("s3" is WORM; "local-not-worm" is the lab's directory). */
  readonly archiveKind: string;
  readonly now: () => Date;
  /** The control plane's key: signs each appliance's verified head (chain-scan.ts). */
  readonly signer: Signer;
}

const PAGE = 1000;
/** The agent's default check interval (agent config check_interval_s): coverage's yardstick. */
export const CHECK_INTERVAL_S = 300;

/** A packet states what happened; a month that has not started has nothing to state yet. */
export function assertStarted(month: string, now: Date): void {
  if (now.toISOString() < monthRange(month).from)
    throw new ControlPlaneError(
      "invalid_month",
      `${month} has not started: a packet covers a period that has begun`,
    );
}

export async function gatherPacket(
  deps: GatherDeps,
  tenantId: string,
  month: string,
  /** Called with the fraction of the evidence read so far (0..1). */
  progress?: (fraction: number) => void,
): Promise<PacketData> {
  const { store } = deps;
  const { from, to } = monthRange(month);
  const now = deps.now();
  const generatedAt = now.toISOString();
  assertStarted(month, now);
  const partial = generatedAt < to;
  const period: Period = { from, to, end: partial ? generatedAt : to, partial };
  const tenant = await store.getTenant(tenantId);
  if (!tenant) throw new ControlPlaneError("unknown_tenant", `no tenant ${tenantId}`);
  const catalog = await loadCatalog(deps.catalogDir);
  const appliances = (await store.listAppliances(tenantId)).filter((a) => a.evidencePublicKey);

  const rates = new Map<string, { runs: number; pass: number; drift: number; other: number }>();
  const remediations: Remediation[] = [];
  const backupFindings = new Map<string, number>();
  let backupRuns = 0;
  let backupPass = 0;
  const integrity: ApplianceIntegrity[] = [];
  let bundles = 0;
  let checkResults = 0;
  let healingAttempts = 0;
  const applianceIds = appliances.map((a) => a.applianceId);
  const decided = await decisionsByOrder(store, tenantId, applianceIds);
  const actors = await orderActors(store, tenantId);
  const ledger = new OrderLedger();
  const findings = new FindingTracker(period.end);
  const coverage: Coverage[] = [];
  const applianceRates: (CheckRate & { applianceId: string })[] = [];
  const checkIds = Object.keys(DRIFT_CHECKS);

  for (const [index, a] of appliances.entries()) {
    const key = verificationKey(publicKeyFromBase64(a.evidencePublicKey ?? ""));
    const cover = new CoverageTracker(a.applianceId, period, CHECK_INTERVAL_S, checkIds);
    const own = new Map<string, { runs: number; pass: number; drift: number; other: number }>();
    // The same point-in-time answer as `verify-export --as-of` (recorded time), verified chain only.
    const states = new CheckStatesAsOf(Date.parse(period.end) - 1);
    let inMonth = 0;
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    // One pass over the chain, a page at a time: nothing holds more than a page of bundles.
    const scan = await scanChain(
      store,
      {
        tenantId,
        applianceId: a.applianceId,
        key,
        signer: deps.signer,
        now: deps.now,
        progress: (seq) =>
          progress?.(
            (index + Math.min(1, seq / Math.max(1, a.evidenceHead.seq))) / appliances.length,
          ),
      },
      (b, at, hash) => {
        findings.observe(a.applianceId, b, hash);
        cover.observe(b);
        if (b.event.kind === "check_result") states.observe(b, hash);
        if (!(at >= from && at < to)) return;
        inMonth += 1;
        firstSeq ??= b.seq;
        lastSeq = b.seq;
        const e = b.event;
        ledger.observe(a.applianceId, b.seq, at, e);
        if (e.kind === "check_result") {
          checkResults += 1;
          countCheck(rates, e);
          countCheck(own, e);
          if (e.check_id === "backups") {
            backupRuns += 1;
            if (e.status === "pass") backupPass += 1;
            for (const f of e.findings)
              backupFindings.set(f.code, (backupFindings.get(f.code) ?? 0) + 1);
          }
        } else if (e.kind === "healing_attempt") {
          healingAttempts += 1;
          const attribution = e.order_id
            ? attributeOrder(e.order_id, decided, actors)
            : APPLIANCE_L1;
          remediations.push({
            applianceId: a.applianceId,
            at,
            tier: e.tier,
            checkId: e.check_id ?? "-",
            runbookId: e.runbook_id ?? "-",
            outcome: e.outcome,
            attribution,
            orderId: e.order_id ?? null,
            detail: e.detail ?? "",
            ref: { applianceId: a.applianceId, seq: b.seq, hash },
          });
        }
      },
    );
    bundles += inMonth;
    coverage.push(cover.result());
    for (const [checkId, r] of [...own.entries()].sort(([x], [y]) => x.localeCompare(y)))
      applianceRates.push({ applianceId: a.applianceId, checkId, ...r });
    const cp = await store.latestCheckpoint(tenantId, a.applianceId);
    const objects = await store.listVaultObjects(tenantId, a.applianceId);
    const cosigned = cp ? await checkpointCosigned(store, cp, key) : false;
    integrity.push({
      applianceId: a.applianceId,
      bundlesInMonth: inMonth,
      firstSeq,
      lastSeq,
      chainHeadSeq: scan.lastSeq,
      chainVerified: scan.ok,
      chainDetail: scan.detail,
      checkpointTreeSize: cp?.treeSize ?? null,
      checkpointRoot: cp?.rootHash ?? null,
      evidenceKeyId: keyId(key.publicKey),
      checkpointCosigned: cosigned,
      // Each check's state from the verified chain only: none when it is broken.
      endOfPeriod: scan.ok ? states.lines() : [],
      archivedObjects: objects
        .filter((o) => o.status === "archived")
        .map((o) => ({ key: o.objectKey, archive: o.archive ?? "?", versionId: o.versionId })),
      pendingObjects: objects.filter((o) => o.status !== "archived").length,
      ...archiveCoverage(objects, scan.bundles),
    });
  }

  const received = (await store.listIncidents(tenantId))
    .map((i) => ({ row: i, body: Incident.parse(JSON.parse(i.bodyJson)) }))
    .filter(({ body }) => body.detected_at >= from && body.detected_at < to);
  const incidents = (
    await Promise.all(
      received.map(async ({ row, body }) => ({
        row,
        body,
        // The pipeline's status (escalated, resolved, ...) where the planner has one.
        state: await store.planner.getIncident(tenantId, row.applianceId, body.incident_id),
      })),
    )
  )
    .map(({ row, body, state }) => ({
      incidentId: body.incident_id,
      applianceId: row.applianceId,
      checkId: body.check_id,
      detectedAt: body.detected_at,
      status: state?.status ?? row.status,
      localL1: body.local_l1.attempted
        ? `${body.local_l1.runbook_id} ${body.local_l1.outcome}`
        : `not attempted: ${body.local_l1.why_not}`,
    }))
    .sort((x, y) => x.detectedAt.localeCompare(y.detectedAt));

  const decisions: PacketData["decisions"][number][] = [];
  for (const a of appliances) {
    for (let after = 0; ; ) {
      const page = await store.planner.listDecisions(tenantId, a.applianceId, after, PAGE);
      for (const d of page) {
        const r = DecisionRecord.parse(JSON.parse(d.recordJson));
        if (r.recorded_at < from || r.recorded_at >= to) continue;
        decisions.push({
          at: r.recorded_at,
          applianceId: r.appliance_id,
          incidentId: r.incident_id,
          tier: r.tier,
          outcome: r.outcome,
          decidedBy: r.decided_by,
          runbookId: r.runbook_id ?? "",
          reason: r.reason,
          note: r.note ?? "",
          model: r.llm?.model ?? "",
        });
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]?.seq ?? after;
    }
  }
  decisions.sort((x, y) => x.at.localeCompare(y.at));
  remediations.sort((x, y) => x.at.localeCompare(y.at));

  const orders = await ledger.rows(store, tenantId, applianceIds, { from, to }, decided, actors);
  const { exceptions, source } = clientExceptions(catalog, deps.catalogDir, tenantId);
  const today = generatedAt.slice(0, 10);
  const status = evaluateExceptions(exceptions, today);

  return {
    tenantId,
    month,
    period,
    generatedAt,
    baseline: {
      id: catalog.baseline.id,
      version: catalog.baseline.version,
      title: catalog.baseline.title,
    },
    toggles: allToggles(catalog.baseline).map((t) => ({
      id: t.id,
      area: t.area,
      title: t.title,
      value: Array.isArray(t.value) ? t.value.join(", ") : String(t.value),
      citations: t.citations.join("; "),
    })),
    controls: catalog.controlsMap.map((r) => ({
      citation: r.citation,
      title: r.title,
      requirement: r.requirement,
      coverage: r.coverage,
      checks: r.checks.join(", "),
    })),
    appliances: appliances.map((a) => a.applianceId),
    applianceInfo: appliances.map((a) => ({
      applianceId: a.applianceId,
      hostname: a.hostname ?? "-",
      agentVersion: a.agentVersion ?? "-",
      status: a.status,
      enrolledAt: a.enrolledAt ?? "-",
    })),
    applianceRates,
    findings: findings.rows(from),
    coverage,
    checkRates: [...rates.entries()]
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([checkId, r]) => ({ checkId, ...r })),
    remediations,
    orders,
    incidents,
    decisions,
    exceptions: exceptions.map((e) => ({
      toggle: e.toggle,
      risk: e.risk,
      reason: e.reason,
      compensatingControl: e.compensating_control,
      owner: e.owner,
      approvedOn: e.approved_on,
      expiresOn: e.expires_on,
      approvedBy: e.approved_by,
      expired: status.expired.includes(e),
    })),
    exceptionsSource: source,
    backups: {
      runs: backupRuns,
      pass: backupPass,
      findings: [...backupFindings.entries()].map(([code, count]) => ({ code, count })),
    },
    integrity,
    archiveKind: deps.archiveKind,
    counts: {
      bundles,
      check_results: checkResults,
      healing_attempts: healingAttempts,
      incidents: incidents.length,
      decisions: decisions.length,
    },
  };
}

function countCheck(
  rates: Map<string, { runs: number; pass: number; drift: number; other: number }>,
  e: CheckEvent,
): void {
  const r = rates.get(e.check_id) ?? { runs: 0, pass: 0, drift: 0, other: 0 };
  r.runs += 1;
  if (e.status === "pass") r.pass += 1;
  else if (e.status === "drift") r.drift += 1;
  else r.other += 1;
  rates.set(e.check_id, r);
}

/**
 * How much of the chain has an archived copy at generation time: the bundles inside archived
 * segments; every other bundle (queued segment, or not yet cut into one) is pending.
 */
function archiveCoverage(
  objects: readonly { kind: string; status: string; firstSeq: number; lastSeq: number }[],
  chainLength: number,
): { archivedBundles: number; pendingBundles: number } {
  const archivedBundles = objects
    .filter((o) => o.kind === "segment" && o.status === "archived")
    .reduce((n, o) => n + (o.lastSeq - o.firstSeq + 1), 0);
  return { archivedBundles, pendingBundles: Math.max(0, chainLength - archivedBundles) };
}

/** The client's exceptions: baseline/exceptions/<tenant>.yaml when the catalog has one. */
function clientExceptions(
  catalog: Catalog,
  catalogDir: string,
  tenantId: string,
): { exceptions: readonly ClientException[]; source: string } {
  const file = catalog.exceptions.find((x) => x.client === tenantId);
  const path = join("baseline", "exceptions", `${tenantId}.yaml`);
  if (!file) {
    return {
      exceptions: [],
      source: existsSync(join(catalogDir, path))
        ? `${path} (no exceptions for this client)`
        : `none: the catalog has no ${path}`,
    };
  }
  return { exceptions: file.exceptions, source: path };
}
