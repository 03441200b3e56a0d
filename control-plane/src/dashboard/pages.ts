import { html } from "hono/html";
import {
  type ChainHead,
  GENESIS_HEAD,
  Incident,
  publicKeyFromBase64,
  tryParseMessage,
  verificationKey,
  verifyChain,
} from "#protocol";
import { type Principal, roleMay, visibleTenants } from "../access/roles.ts";
import { verifyAuditChain } from "../audit.ts";
import type { Services } from "../env.ts";
import { jobView, listPackets, previousMonth } from "../packets/index.ts";
import type { ApplianceRecord, AuditEntry, IncidentStatus } from "../store/index.ts";
import { badge, csrfField, type Html, when } from "./layout.ts";

/**
 * The dashboard's read side: each function gathers what one page shows from the Store and
 * returns its HTML body. Every value from the store or an appliance is interpolated through
 * `html`, which escapes it; nothing is marked raw.
 */
const PAGE = 1000;

/** The tenants a page may show to whoever asks: its scope's, never more. */
const tenantsOf = async (s: Services, who: Principal) =>
  visibleTenants(who.scope, await s.store.listTenantIds());

export async function sitesPage(s: Services, who: Principal): Promise<Html> {
  const now = s.now();
  const tenants = await tenantsOf(s, who);
  const kill = await s.planner.killSwitch();
  const sections = await Promise.all(
    tenants.map(async (t) => {
      const appliances = await s.store.listAppliances(t);
      const escalated = await s.store.planner.incidentsIn("escalated", t, 500);
      const stalled = await s.planner.stalled(t);
      return html`<h2>Site ${t} ${
        escalated.length > 0
          ? html`<a href="/dashboard/incidents">${badge(`${escalated.length} escalated`, "warn")}</a>`
          : badge("no escalations", "ok")
      }${
        stalled.length > 0
          ? html` <a href="/dashboard/incidents?status=queued">${badge(`${stalled.length} waiting for a decision too long`, "bad")}</a>`
          : ""
      }</h2>
<table><thead><tr><th>Appliance</th><th>Hostname</th><th>Status</th><th>Mode</th><th>Last contact</th><th>Agent</th><th>Evidence</th><th>Orders</th></tr></thead><tbody>
${appliances.map(
  (a) => html`<tr><td class="mono">${a.applianceId}</td><td>${a.hostname ?? "—"}</td>
<td>${badge(a.status, a.status === "active" ? "ok" : a.status === "revoked" ? "bad" : "warn")}</td>
<td>${modeOf(a)}</td><td>${when(a.lastSeenAt, now)}</td><td>${a.agentVersion ?? "—"}</td>
<td><a href="/dashboard/evidence/${a.tenantId}/${a.applianceId}">${a.evidenceHead.seq} bundles</a></td>
<td><a href="/dashboard/orders?tenant=${a.tenantId}&appliance=${a.applianceId}">${a.orderSeq} orders</a></td></tr>`,
)}</tbody></table>`;
    }),
  );
  return html`<p>Global L2 kill switch: ${
    kill.engaged ? badge(`engaged: ${kill.reason}`, "bad") : badge("off", "ok")
  }</p>${tenants.length === 0 ? html`<p class="muted">No sites yet.</p>` : sections}`;
}

function modeOf(a: ApplianceRecord): Html {
  const healing = a.settings.healing;
  if (!healing) return html`enforce <span class="muted">(local config)</span>`;
  return html`${healing.mode}${
    healing.audit_only_checks.length > 0
      ? html` <span class="muted">(audit only: ${healing.audit_only_checks.join(", ")})</span>`
      : ""
  }`;
}

const STATUSES: readonly IncidentStatus[] = [
  "escalated",
  "ordered",
  "rejected",
  "resolved_manually",
  "resolved",
  "queued",
  "planning",
];

export function parseStatus(raw: string | undefined): IncidentStatus {
  return STATUSES.find((st) => st === raw) ?? "escalated";
}

export async function incidentsPage(
  s: Services,
  status: IncidentStatus,
  csrf: string,
  who: Principal,
): Promise<Html> {
  const now = s.now();
  const rows = (
    await Promise.all(
      (await tenantsOf(s, who)).map((t) => s.store.planner.incidentsIn(status, t, 200)),
    )
  ).flat();
  const filter = html`<p>${STATUSES.map((st) =>
    st === status ? html`<strong>${st}</strong> ` : html`<a href="?status=${st}">${st}</a> `,
  )}</p>`;
  if (rows.length === 0) return html`${filter}<p class="muted">No ${status} incidents.</p>`;
  return html`${filter}<table><thead><tr><th>Received</th><th>Site / appliance</th><th>Check</th><th>Findings</th><th>${
    status === "escalated" ? "Decide (L3)" : "Note"
  }</th></tr></thead><tbody>${rows.map((r) => {
    const parsed = tryParseMessage(Incident, JSON.parse(r.bodyJson));
    const incident = parsed.ok ? parsed.value : undefined;
    const base = `/dashboard/incidents/${r.tenantId}/${r.applianceId}/${r.incidentId}`;
    const candidates = incident ? s.planner.l3Candidates(incident) : [];
    return html`<tr data-incident="${r.incidentId}"><td>${when(r.receivedAt, now)}</td>
<td>${r.tenantId} / <span class="mono">${r.applianceId}</span></td>
<td>${incident ? html`${incident.check_id} ${badge(incident.severity, incident.severity === "low" ? "" : "warn")}` : badge("unparsable", "bad")}</td>
<td>${incident?.findings.map(
      (f) =>
        html`<div><code>${f.code}</code> ${f.subject}: expected <em>${f.expected}</em>, observed <em>${f.observed}</em></div>`,
    )}</td>
<td>${
      status === "escalated" && roleMay(who.role, "decide")
        ? html`${
            candidates.length > 0
              ? html`<form method="post" action="${base}/approve" class="inline">${csrfField(csrf)}
<select name="runbook_id" aria-label="runbook">${candidates.map((id) => html`<option>${id}</option>`)}</select>
<button class="primary">Approve</button></form>`
              : html`<span class="muted">no L3 runbook matches</span>`
          }
<form method="post" action="${base}/approve" class="inline">${csrfField(csrf)}
<select name="runbook_id" aria-label="override runbook">${s.planner
            .l3Runbooks()
            .filter((id) => !candidates.includes(id))
            .map((id) => html`<option>${id}</option>`)}</select>
<input name="override_reason" required minlength="3" maxlength="1000" placeholder="why this runbook anyway" aria-label="override reason"><button>Override</button></form>
<form method="post" action="${base}/reject" class="inline">${csrfField(csrf)}<input name="note" required maxlength="1000" placeholder="why" aria-label="reject note"><button>Reject</button></form>
<form method="post" action="${base}/resolve" class="inline">${csrfField(csrf)}<input name="note" required maxlength="1000" placeholder="what was done" aria-label="resolve note"><button>Resolved by hand</button></form>`
        : html`${Object.keys(r.note).length > 0 ? html`<code>${JSON.stringify(r.note)}</code>` : ""}`
    }</td></tr>`;
  })}</tbody></table>`;
}

export async function ordersPage(
  s: Services,
  who: Principal,
  tenant?: string,
  appliance?: string,
): Promise<Html> {
  const now = s.now();
  const tenants = (await tenantsOf(s, who)).filter((t) => !tenant || t === tenant);
  const targets = (await Promise.all(tenants.map((t) => s.store.listAppliances(t))))
    .flat()
    .filter((a) => !appliance || a.applianceId === appliance);
  const orders = (
    await Promise.all(
      targets.map((a) =>
        s.store.ordersAfter(a.tenantId, a.applianceId, Math.max(0, a.orderSeq - 100), 100),
      ),
    )
  )
    .flat()
    .sort((x, y) => y.issuedAt.localeCompare(x.issuedAt));
  if (orders.length === 0) return html`<p class="muted">No orders.</p>`;
  const kind = (st: string) =>
    st === "succeeded"
      ? "ok"
      : st === "failed" || st === "rejected" || st === "expired"
        ? "bad"
        : "warn";
  return html`<p class="muted">Lifecycle: pending → delivered (the appliance polled it) → succeeded / failed / rejected (refused by the appliance) / expired (not done in time). The latest 100 per appliance.</p>
<table><thead><tr><th>Issued</th><th>Site / appliance</th><th>Seq</th><th>Runbook</th><th>Tier</th><th>Status</th><th>Expires</th><th>Order id</th></tr></thead><tbody>
${orders.map(
  (
    o,
  ) => html`<tr data-order="${o.orderId}"><td>${when(o.issuedAt, now)}</td><td>${o.tenantId} / <span class="mono">${o.applianceId}</span></td>
<td>${o.seq}</td><td>${o.runbookId}</td><td>${o.tier}</td><td>${badge(o.status, kind(o.status))}</td>
<td>${when(o.expiresAt, now)}</td><td class="mono">${o.orderId}</td></tr>`,
)}</tbody></table>`;
}

export async function evidenceIndexPage(s: Services, who: Principal): Promise<Html> {
  const appliances = (
    await Promise.all((await tenantsOf(s, who)).map((t) => s.store.listAppliances(t)))
  ).flat();
  return html`<table><thead><tr><th>Site</th><th>Appliance</th><th>Head seq</th><th></th></tr></thead><tbody>${appliances.map(
    (
      a,
    ) => html`<tr><td>${a.tenantId}</td><td class="mono">${a.applianceId}</td><td>${a.evidenceHead.seq}</td>
<td><a href="/dashboard/evidence/${a.tenantId}/${a.applianceId}">verify and browse</a></td></tr>`,
  )}</tbody></table>`;
}

/** Verifies the stored chain from genesis with the appliance's enrolled evidence key. */
export async function verifyStoredChain(s: Services, a: ApplianceRecord) {
  if (!a.evidencePublicKey) return { ok: false as const, count: 0, detail: "not enrolled" };
  const key = verificationKey(publicKeyFromBase64(a.evidencePublicKey));
  let from: ChainHead = GENESIS_HEAD;
  let count = 0;
  for (;;) {
    const rows = await s.store.listEvidence(a.tenantId, a.applianceId, from.seq, PAGE);
    const verdict = verifyChain(
      rows.map((r) => JSON.parse(r.bundleJson)),
      { key, tenantId: a.tenantId, applianceId: a.applianceId, from },
    );
    count += verdict.count;
    if (!verdict.ok) {
      return {
        ok: false as const,
        count,
        detail: `${verdict.break.reason} at seq ${verdict.break.seq ?? "?"}: ${verdict.break.detail}`,
      };
    }
    from = verdict.head;
    if (rows.length < PAGE) break;
  }
  const matchesHead = from.seq === a.evidenceHead.seq && from.hash === a.evidenceHead.hash;
  return matchesHead
    ? { ok: true as const, count, head: from }
    : { ok: false as const, count, detail: "the verified chain ends before the stored head" };
}

export async function evidencePage(s: Services, a: ApplianceRecord): Promise<Html> {
  const now = s.now();
  const verdict = await verifyStoredChain(s, a);
  const checkpoint = await s.store.latestCheckpoint(a.tenantId, a.applianceId);
  const objects = await s.store.listVaultObjects(a.tenantId, a.applianceId);
  const archived = objects.filter((o) => o.status === "archived").length;
  const recent = await s.store.listEvidence(
    a.tenantId,
    a.applianceId,
    Math.max(0, a.evidenceHead.seq - 50),
    50,
  );
  return html`<table><tbody>
<tr><th>Site / appliance</th><td>${a.tenantId} / <span class="mono">${a.applianceId}</span></td></tr>
<tr><th>Chain</th><td id="chain-status">${
    verdict.ok
      ? badge(`verified: ${verdict.count} bundles, signatures and links`, "ok")
      : badge(`NOT verified: ${verdict.detail}`, "bad")
  }</td></tr>
<tr><th>Head</th><td class="mono">seq ${a.evidenceHead.seq} · ${a.evidenceHead.hash}</td></tr>
<tr><th>Evidence key</th><td class="mono">${a.evidenceKeyFingerprint ?? "—"}</td></tr>
<tr><th>Latest checkpoint</th><td>${
    checkpoint
      ? html`<span class="mono">size ${checkpoint.treeSize} · root ${checkpoint.rootHash}</span> ${when(checkpoint.issuedAt, now)}`
      : html`<span class="muted">none yet</span>`
  }</td></tr>
<tr><th>Vault objects</th><td>${archived} archived of ${objects.length}</td></tr>
</tbody></table>
<h2>Latest bundles</h2>
<table><thead><tr><th>Seq</th><th>Recorded (appliance clock)</th><th>Event</th><th>Hash</th></tr></thead><tbody>${[
    ...recent,
  ]
    .reverse()
    .map((r) => {
      const b = JSON.parse(r.bundleJson) as { recorded_at?: string; event?: { kind?: string } };
      return html`<tr><td>${r.seq}</td><td>${b.recorded_at ?? "—"}</td><td>${b.event?.kind ?? "?"}</td><td class="mono">${r.hash.slice(0, 16)}…</td></tr>`;
    })}</tbody></table>`;
}

export async function proposalsPage(s: Services, csrf: string, who: Principal): Promise<Html> {
  const now = s.now();
  const tenants = await tenantsOf(s, who);
  const rows = (await Promise.all(tenants.map((t) => s.store.planner.listProposals(t)))).flat();
  if (rows.length === 0)
    return html`<p class="muted">No proposals: the flywheel proposes an L1 rule once a pattern's L2/L3 orders keep succeeding.</p>`;
  return html`<table><thead><tr><th>Created</th><th>Site</th><th>Pattern</th><th>Runbook</th><th>Successes</th><th>Status</th><th></th></tr></thead><tbody>${rows.map(
    (p) => {
      const base = `/dashboard/proposals/${p.tenantId}/${p.proposalId}`;
      return html`<tr data-proposal="${p.proposalId}"><td>${when(p.createdAt, now)}</td><td>${p.tenantId}</td><td><code>${p.patternKey}</code></td>
<td>${p.runbookId}</td><td>${p.successes}</td><td>${badge(p.status, p.status === "approved" ? "ok" : p.status === "rejected" ? "bad" : "warn")}</td>
<td>${
        p.status === "proposed" && roleMay(who.role, "decide")
          ? html`<form method="post" action="${base}/approve" class="inline">${csrfField(csrf)}<input name="note" maxlength="1000" placeholder="note (optional)" aria-label="note"><button class="primary">Approve</button></form>
<form method="post" action="${base}/reject" class="inline">${csrfField(csrf)}<input name="note" maxlength="1000" placeholder="note (optional)" aria-label="note"><button>Reject</button></form>`
          : html`${p.decidedBy ?? ""} ${p.note ?? ""}`
      }</td></tr>`;
    },
  )}</tbody></table>`;
}

export async function auditPage(s: Services): Promise<Html> {
  const now = s.now();
  const entries: AuditEntry[] = [];
  for (let after = 0; ; ) {
    const page = await s.store.listAudit(after, PAGE);
    entries.push(...page);
    if (page.length < PAGE) break;
    after = page.at(-1)?.seq ?? after;
  }
  const broken = verifyAuditChain(entries);
  return html`<p id="audit-status">${
    broken === null
      ? badge(`hash chain verified: ${entries.length} entries`, "ok")
      : badge(`hash chain BROKEN at seq ${broken}`, "bad")
  }</p>
<table><thead><tr><th>Seq</th><th>At</th><th>Actor</th><th>Action</th><th>Target</th><th>Detail</th></tr></thead><tbody>${entries
    .slice(-200)
    .reverse()
    .map(
      (
        e,
      ) => html`<tr><td>${e.seq}</td><td>${when(e.at, now)}</td><td>${e.actor}</td><td><code>${e.action}</code></td>
<td class="mono">${e.target}</td><td class="mono">${e.detailJson === "{}" ? "" : e.detailJson}</td></tr>`,
    )}</tbody></table><p class="muted">The latest 200 entries, newest first.</p>`;
}

export async function packetsPage(s: Services, csrf: string, who: Principal): Promise<Html> {
  const tenants = await tenantsOf(s, who);
  const month = previousMonth(s.now());
  const sections = await Promise.all(
    tenants.map(async (t) => {
      const packets = await listPackets(s.store, t);
      const jobs = (await s.store.listPacketJobs(t, 10)).map(jobView);
      return html`<h2>Site ${t}</h2>${
        s.packets
          ? html`<form method="post" action="/dashboard/packets/${t}" class="inline">${csrfField(csrf)}
<input name="month" value="${month}" pattern="[0-9]{4}-[0-9]{2}" required aria-label="month (YYYY-MM)" size="8">
<input name="reason" maxlength="500" aria-label="reason (required for a new version)" placeholder="reason (required for a new version)" size="40">
<button class="primary">Generate packet</button></form>`
          : ""
      }
${
  jobs.length === 0
    ? ""
    : html`<table><thead><tr><th>Job</th><th>Month</th><th>Status</th><th>Asked by</th><th>Result</th></tr></thead><tbody>${jobs.map(
        (
          j,
        ) => html`<tr data-packet-job="${j.job_id}"><td class="mono">${j.job_id.slice(0, 8)}</td><td>${j.month}</td>
<td>${badge(
          j.status === "running" ? `running ${Math.round(100 * j.progress)}%` : j.status,
          j.status === "failed" ? "bad" : j.status === "done" ? "ok" : "warn",
        )}</td><td>${j.requested_by}${j.reason ? html`: ${j.reason}` : ""}</td><td>${
          j.status === "done"
            ? `version ${j.version}`
            : j.status === "failed"
              ? html`${j.error ?? ""} <form method="post" action="/dashboard/packets/${t}/jobs/${j.job_id}/rerun" class="inline">${csrfField(csrf)}<button>Run again</button></form>`
              : ""
        }</td></tr>`,
      )}</tbody></table>`
}
<table><thead><tr><th>Month</th><th>Version</th><th>Generated</th><th>By, reason</th><th>Counts</th><th>Download</th></tr></thead><tbody>${
        packets.length === 0
          ? html`<tr><td colspan="6" class="muted">No packets yet.</td></tr>`
          : packets.map(
              (
                p,
              ) => html`<tr data-packet="${t}/${p.month}/v${p.version}"><td>${p.month}</td><td>${p.version}${
                p.previous_manifest_sha256
                  ? html`<br><span class="muted mono">replaces ${p.previous_manifest_sha256.slice(0, 12)}</span>`
                  : ""
              }</td><td>${when(p.generated_at, s.now())}</td>
<td>${p.requested_by}${p.reason ? html`: ${p.reason}` : ""}</td>
<td class="muted">${Object.entries(p.counts).map(([k, v]) => html`${k} ${v}; `)}</td>
<td>${p.files.map(
                (f) =>
                  html`<a href="/v1/operator/tenants/${t}/packets/${p.month}/versions/${p.version}/${f}" download>${f}</a> `,
              )}</td></tr>`,
            )
      }</tbody></table>`;
    }),
  );
  return html`${
    s.packets
      ? html`<p class="muted">A packet per site and month: Markdown, PDF and a manifest signed by the control plane. Generated on the first of each month for the month before. A packet is never replaced: generating again makes the next version, with a stated reason, and every version stays listed here.</p>`
      : html`<p class="notice bad">Packets are not configured on this control plane.</p>`
  }${sections}`;
}
