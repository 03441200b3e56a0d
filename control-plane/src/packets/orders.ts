import { DecisionRecord, type EvidenceEvent } from "#protocol";
import type { Store, StoredOrder } from "../store/index.ts";

/**
 * Who decided each order, and every order of the month with what became of it. An order is
 * decided by a control-plane L1 rule, the L2 planner (with its model), an operator approving an
 * L3 escalation (with the note), or an operator through the admin API (no decision record: the
 * audit log names the actor). The appliance's own L1 rules need no order.
 */
export interface Attribution {
  /** "appliance L1" | "control-plane L1" | "L2" | "L3" | "admin API". */
  readonly by: string;
  /** Words for the packet: the rule, the model, or the operator and the note. */
  readonly who: string;
}

export interface OrderRow {
  readonly applianceId: string;
  readonly orderId: string;
  readonly seq: number;
  readonly tier: string;
  readonly runbookId: string;
  readonly issuedAt: string;
  readonly expiresAt: string;
  /** The store's status, or what the appliance's evidence says when it refused it. */
  readonly status: string;
  readonly detail: string;
  readonly attribution: Attribution;
  /** The appliance's bundle that accepted, refused or reported on it, when there is one. */
  readonly evidenceSeq: number | null;
}

type Evidence = Extract<
  EvidenceEvent,
  { kind: "order_accepted" | "order_rejected" | "order_result" | "order_withdrawn" }
>;

const PAGE = 1000;

/** Attribution of a decision record by its `decided_by` (protocol/schemas/decision.ts). */
export function attributeDecision(r: {
  tier: string;
  decided_by: string;
  note?: string | undefined;
  llm?: { model: string } | undefined;
}): Attribution {
  const d = r.decided_by;
  if (d.startsWith("control-plane:l1:"))
    return { by: "control-plane L1", who: `control-plane L1 rule ${d.slice(17)}` };
  if (r.tier === "L2" || d.startsWith("l2:"))
    return { by: "L2", who: `L2 planner, model ${r.llm?.model ?? d.replace(/^l2:/, "")}` };
  if (r.tier === "L3")
    return { by: "L3", who: `L3 ${d}${r.note ? `, note: ${r.note}` : ", no note"}` };
  return { by: r.tier, who: d };
}

export const APPLIANCE_L1: Attribution = {
  by: "appliance L1",
  who: "appliance L1 rule (local, no order)",
};

/** Every decision of the appliances with an order, by order id, whatever its month. */
export async function decisionsByOrder(
  store: Store,
  tenantId: string,
  applianceIds: readonly string[],
): Promise<Map<string, Attribution>> {
  const out = new Map<string, Attribution>();
  for (const applianceId of applianceIds) {
    for (let after = 0; ; ) {
      const page = await store.planner.listDecisions(tenantId, applianceId, after, PAGE);
      for (const d of page) {
        const r = DecisionRecord.parse(JSON.parse(d.recordJson));
        if (r.order_id) out.set(r.order_id, attributeDecision(r));
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]?.seq ?? after;
    }
  }
  return out;
}

/** Who created each order of the tenant, from the audit log's order.created entries. */
export async function orderActors(store: Store, tenantId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let after = 0; ; ) {
    const page = await store.listAudit(after, PAGE);
    for (const a of page) {
      if (a.action !== "order.created" || !a.target.startsWith(`${tenantId}/`)) continue;
      const detail = JSON.parse(a.detailJson) as { order_id?: string };
      if (detail.order_id) out.set(detail.order_id, a.actor);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]?.seq ?? after;
  }
  return out;
}

/**
 * Collects, per appliance, what its evidence says about orders (accepted, refused, expired,
 * withdrawn, result): feed it every bundle, then read the month's orders.
 */
export class OrderLedger {
  private readonly seen = new Map<string, { seq: number; event: Evidence }[]>();
  /** Refusals whose order id the store does not know (forged or unreadable orders). */
  private readonly refusals: { applianceId: string; seq: number; at: string; event: Evidence }[] =
    [];

  observe(applianceId: string, seq: number, receivedAt: string, event: EvidenceEvent): void {
    if (
      event.kind !== "order_accepted" &&
      event.kind !== "order_rejected" &&
      event.kind !== "order_result" &&
      event.kind !== "order_withdrawn"
    )
      return;
    const id = event.order_id;
    if (id === undefined) {
      this.refusals.push({ applianceId, seq, at: receivedAt, event });
      return;
    }
    const list = this.seen.get(`${applianceId}/${id}`) ?? [];
    list.push({ seq, event });
    this.seen.set(`${applianceId}/${id}`, list);
    if (event.kind === "order_rejected")
      this.refusals.push({ applianceId, seq, at: receivedAt, event });
  }

  /**
   * The orders issued in [from, to) and the refusals received then whose order the store does
   * not hold, oldest first, each with who decided it.
   */
  async rows(
    store: Store,
    tenantId: string,
    applianceIds: readonly string[],
    range: { from: string; to: string },
    decisions: ReadonlyMap<string, Attribution>,
    actors: ReadonlyMap<string, string>,
  ): Promise<OrderRow[]> {
    const rows: OrderRow[] = [];
    const known = new Set<string>();
    for (const applianceId of applianceIds) {
      for (let after = 0; ; ) {
        const page = await store.ordersAfter(tenantId, applianceId, after, PAGE);
        for (const o of page) {
          known.add(`${applianceId}/${o.orderId}`);
          if (o.issuedAt < range.from || o.issuedAt >= range.to) continue;
          rows.push(this.row(o, attributeOrder(o.orderId, decisions, actors)));
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1]?.seq ?? after;
      }
    }
    for (const r of this.refusals) {
      if (r.event.kind !== "order_rejected" || r.at < range.from || r.at >= range.to) continue;
      const id = r.event.order_id;
      if (id !== undefined && known.has(`${r.applianceId}/${id}`)) continue;
      rows.push({
        applianceId: r.applianceId,
        orderId: id ?? "(unreadable)",
        seq: r.event.order_seq ?? 0,
        tier: "-",
        runbookId: r.event.runbook_id ?? "-",
        issuedAt: r.at,
        expiresAt: "-",
        status: `refused by the appliance (${r.event.outcome}: ${r.event.reason})`,
        detail: `${r.event.detail}; not an order this control plane holds`,
        attribution: { by: "unknown", who: "not issued by this control plane" },
        evidenceSeq: r.seq,
      });
    }
    return rows.sort((x, y) => x.issuedAt.localeCompare(y.issuedAt) || x.seq - y.seq);
  }

  private row(o: StoredOrder, attribution: Attribution): OrderRow {
    const events = this.seen.get(`${o.applianceId}/${o.orderId}`) ?? [];
    const refused = events.find((e) => e.event.kind === "order_rejected");
    const result = events.find((e) => e.event.kind === "order_result");
    const last = refused ?? result ?? events.at(-1);
    let status: string = o.status;
    let detail = "";
    if (refused?.event.kind === "order_rejected") {
      status = `refused by the appliance (${refused.event.outcome}: ${refused.event.reason})`;
      detail = refused.event.detail;
    } else if (o.status === "expired") {
      detail = `not run before it expired at ${o.expiresAt}`;
    } else if (o.withdrawal) {
      detail = `withdrawn by ${o.withdrawal.by} (${o.withdrawal.reason})`;
    } else if (result?.event.kind === "order_result") {
      detail = `appliance reported ${result.event.outcome}`;
    }
    return {
      applianceId: o.applianceId,
      orderId: o.orderId,
      seq: o.seq,
      tier: o.tier,
      runbookId: o.runbookId,
      issuedAt: o.issuedAt,
      expiresAt: o.expiresAt,
      status,
      detail,
      attribution,
      evidenceSeq: last?.seq ?? null,
    };
  }
}

/** An order's attribution: its decision record, else the operator who created it by the API. */
export function attributeOrder(
  orderId: string,
  decisions: ReadonlyMap<string, Attribution>,
  actors: ReadonlyMap<string, string>,
): Attribution {
  const decided = decisions.get(orderId);
  if (decided) return decided;
  const actor = actors.get(orderId);
  return actor
    ? { by: "admin API", who: `admin API order by ${actor}` }
    : { by: "unknown", who: "no decision record and no audit entry" };
}
