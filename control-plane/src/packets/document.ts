import type { Block } from "./blocks.ts";
import type { PacketData } from "./gather.ts";
import {
  applianceBlocks,
  controlsBlocks,
  coverageBlocks,
  coverBlocks,
  findingBlocks,
  periodText,
  rate,
  scopeBlocks,
  shortRef,
  summaryBlocks,
} from "./sections.ts";

export type { Block } from "./blocks.ts";

const pct = (n: number, d: number) => (d === 0 ? 0 : Math.round((1000 * n) / d) / 10);

export function packetBlocks(p: PacketData): Block[] {
  const notWorm = p.archiveKind !== "s3";
  const c = p.counts;
  const totalRuns = p.checkRates.reduce((s, r) => s + r.runs, 0);
  const totalPass = p.checkRates.reduce((s, r) => s + r.pass, 0);
  const expired = p.exceptions.filter((e) => e.expired).length;
  const healed = p.remediations.filter((r) => r.outcome === "healed");
  const healedLocally = healed.filter((r) => r.attribution.by === "appliance L1").length;
  const refused = p.orders.filter((o) => o.status.startsWith("refused")).length;
  const pendingBundles = p.integrity.reduce((n, i) => n + i.pendingBundles, 0);
  const chainBundles = p.integrity.reduce((n, i) => n + i.chainHeadSeq, 0);
  const period = periodText(p);
  const blocks: Block[] = [
    ...coverBlocks(p),
    { kind: "toc", entries: 0 },
    { kind: "pagebreak" },
    ...summaryBlocks(p),
    { kind: "pagebreak" },
    ...scopeBlocks(p),
    { kind: "heading", text: "Figures at a glance" },
    {
      kind: "table",
      columns: ["Figure", "Value"],
      rows: [
        ["Evidence bundles", String(c.bundles)],
        ["Check results", String(c.check_results)],
        ["Period", period],
        ["Check pass rate", rate(totalPass, totalRuns)],
        ["Healing attempts (all tiers)", String(c.healing_attempts)],
        ["Healed by the appliance's own L1 rules", String(healedLocally)],
        [
          "Healed by orders (control-plane L1, L2, L3, admin API)",
          String(healed.length - healedLocally),
        ],
        ["Orders issued (refused by an appliance)", `${p.orders.length} (${refused})`],
        ["Incidents", String(c.incidents)],
        ["Control-plane decisions (L1/L2/L3)", String(c.decisions)],
        ["Exceptions (expired)", `${p.exceptions.length} (${expired})`],
        ["Bundles without an archived copy at generation", `${pendingBundles} of ${chainBundles}`],
        [
          "Evidence chains verified",
          p.integrity.every((i) => i.chainVerified) ? "all" : "NOT ALL: see integrity",
        ],
      ],
    },
    ...applianceBlocks(p),
    { kind: "heading", text: "State of every check at the end of the period" },
    {
      kind: "para",
      text: "From the verified evidence only: the latest result each appliance recorded by the end of the month, and the bundle behind it (verify-export --as-of gives the same answer from an export).",
    },
    {
      kind: "table",
      columns: ["Appliance", "Check", "Status", "Recorded", "Seq", "Bundle hash (first 16)"],
      rows: p.integrity.flatMap((i) =>
        i.endOfPeriod.map((c) => [
          i.applianceId,
          c.check_id,
          c.status,
          c.recorded_at,
          String(c.seq),
          c.hash.slice(0, 16),
        ]),
      ),
    },
    ...coverageBlocks(p),
    { kind: "heading", text: "Check pass rates" },
    {
      kind: "chart",
      bars: p.checkRates.map((r) => ({
        label: r.checkId,
        percent: r.runs === 0 ? null : pct(r.pass, r.runs),
        note: r.runs === 0 ? "no data" : `${r.pass}/${r.runs}`,
      })),
    },
    {
      kind: "table",
      columns: ["Check", "Runs", "Pass", "Drift", "Skipped/error", "Pass rate"],
      rows: p.checkRates.map((r) => [r.checkId, ...rateCells(r)]),
    },
    {
      kind: "table",
      columns: ["Appliance", "Check", "Runs", "Pass", "Drift", "Skipped/error", "Pass rate"],
      rows: p.applianceRates.map((r) => [r.applianceId, r.checkId, ...rateCells(r)]),
    },
    ...findingBlocks(p),
    { kind: "heading", text: "Remediations" },
    {
      kind: "para",
      text: "Every healing attempt the appliances recorded, with who decided it: the appliance's own L1 rule (no order), a control-plane L1 rule, the L2 planner and its model, an operator approving an L3 escalation (with the note), or an operator's order through the admin API.",
    },
    {
      kind: "table",
      columns: ["Time (UTC)", "Check", "Runbook", "Tier", "Outcome", "Decided by", "Evidence"],
      rows: p.remediations.map((r) => [
        r.at.slice(0, 19),
        r.checkId,
        r.runbookId,
        r.tier,
        r.detail ? `${r.outcome}: ${r.detail}` : r.outcome,
        r.attribution.who,
        shortRef(r.ref),
      ]),
    },
    { kind: "heading", text: "Orders" },
    {
      kind: "para",
      text: "Every order issued in the period, whoever issued it, and every order an appliance refused (outside its allowlist, bad signature, expired, replayed): refusals come from the appliance's own signed evidence.",
    },
    {
      kind: "table",
      columns: [
        "Issued (UTC)",
        "Appliance",
        "Seq",
        "Runbook",
        "Tier",
        "Decided by",
        "Status",
        "Evidence",
      ],
      rows: p.orders.map((o) => [
        o.issuedAt.slice(0, 19),
        o.applianceId,
        String(o.seq),
        o.runbookId,
        o.tier,
        o.attribution.who,
        o.detail ? `${o.status}: ${o.detail}` : o.status,
        o.evidenceSeq === null ? "no appliance record" : `${o.applianceId} #${o.evidenceSeq}`,
      ]),
    },
    { kind: "heading", text: "Escalated incidents (sent to the control plane)" },
    {
      kind: "table",
      columns: ["Detected (UTC)", "Appliance", "Check", "Local L1", "Status", "Incident"],
      rows: p.incidents.map((i) => [
        i.detectedAt.slice(0, 19),
        i.applianceId,
        i.checkId,
        i.localL1,
        i.status,
        i.incidentId,
      ]),
    },
    { kind: "heading", text: "L2 and L3 decisions" },
    {
      kind: "table",
      columns: ["Time (UTC)", "Tier", "Outcome", "Decided by", "Runbook", "Reason"],
      rows: p.decisions.map((d) => [
        d.at.slice(0, 19),
        d.tier,
        d.outcome,
        [d.decidedBy, d.model && `model ${d.model}`].filter(Boolean).join(", "),
        d.runbookId || "-",
        d.note ? `${d.reason}; note: ${d.note}` : d.reason,
      ]),
    },
    { kind: "heading", text: "Exceptions" },
    { kind: "para", text: `Source: ${p.exceptionsSource}.` },
    {
      kind: "table",
      columns: [
        "Toggle",
        "Risk",
        "Reason and compensating control",
        "Owner",
        "Approved",
        "Expires",
        "Status",
      ],
      rows: p.exceptions.map((e) => [
        e.toggle,
        e.risk,
        `${e.reason} Compensating control: ${e.compensatingControl}`,
        e.owner,
        `${e.approvedBy}, ${e.approvedOn}`,
        e.expiresOn,
        e.expired ? "EXPIRED" : "in force",
      ]),
    },
    { kind: "heading", text: "Backups and test restores" },
    {
      kind: "para",
      text: `The backups check (backup age, last result and the weekly test restore) ran ${p.backups.runs} times and passed ${p.backups.pass} times (${rate(p.backups.pass, p.backups.runs)}).`,
    },
    {
      kind: "table",
      columns: ["Finding", "Times reported"],
      rows: p.backups.findings.map((f) => [f.code, String(f.count)]),
    },
    { kind: "heading", text: "Baseline and toggles" },
    { kind: "para", text: `${p.baseline.title} (${p.toggles.length} toggles).` },
    {
      kind: "table",
      columns: ["Toggle", "Title", "Area", "Setting", "Citations"],
      rows: p.toggles.map((t) => [t.id, t.title, t.area, t.value, t.citations]),
    },
    ...controlsBlocks(p),
    { kind: "heading", text: "Evidence integrity" },
    {
      kind: "table",
      columns: ["Appliance", "Bundles", "Seq range", "Chain", "Checkpoint", "Root hash"],
      rows: p.integrity.map((i) => [
        i.applianceId,
        String(i.bundlesInMonth),
        i.firstSeq === null ? "-" : `${i.firstSeq}..${i.lastSeq}`,
        i.chainVerified ? "verified" : "BROKEN",
        i.checkpointTreeSize === null ? "none" : String(i.checkpointTreeSize),
        i.checkpointRoot ?? "-",
      ]),
    },
    ...p.integrity.map(
      (i): Block => ({
        kind: "para",
        text: `${i.applianceId}: evidence key id ${i.evidenceKeyId} (confirm it against the id the appliance showed at enrollment). Latest checkpoint ${i.checkpointCosigned ? "cosigned by the appliance as witness" : "NOT yet cosigned by the appliance"}. ${i.chainDetail}. Archive at generation time (${p.generatedAt}): ${i.archivedBundles} of ${i.chainHeadSeq} bundles have an archived copy, ${i.pendingBundles} pending (not yet archived); ${i.archivedObjects.length} archived objects, ${i.pendingObjects} queued (${notWorm ? "archive kind local-not-worm: NOT WORM" : "S3 Object Lock, WORM"}).`,
      }),
    ),
    {
      kind: "table",
      columns: ["Archived object", "Archive", "Version id"],
      rows: p.integrity.flatMap((i) =>
        i.archivedObjects.map((o) => [o.key, o.archive, o.versionId ?? "-"]),
      ),
    },
    { kind: "heading", text: "How to verify" },
    ...(p.controlPlaneKeyId
      ? [
          {
            kind: "para",
            text: `Control-plane key id ${p.controlPlaneKeyId}: the key that signs this packet's manifest.json and every checkpoint; its public key is control-plane.pub.pem beside this packet. Pin it and each appliance's evidence key id when you verify an export (docs/auditor.md).`,
          } satisfies Block,
        ]
      : []),
    {
      kind: "para",
      text: "Evidence: ask the operator for an evidence export of each appliance and run `npm run verify-export -- <export dir>` (docs/auditor.md); it checks every bundle signature, the hash chain, the signed checkpoints and the WORM copies.",
    },
    {
      kind: "para",
      text: "This packet: manifest.json lists the SHA-256 of packet.md and packet.pdf and is signed (Ed25519) with the control plane's key; control-plane.pub.pem beside it is that key. The manifest is canonical JSON on one line, so cutting out its sig member gives the signed bytes: docs/auditor.md gives the OpenSSL and coreutils commands; then sha256sum packet.md packet.pdf and compare with the manifest.",
    },
  ];
  // The contents list every section heading that follows it.
  const headings = blocks.filter((b) => b.kind === "heading").length;
  return blocks.map((b) => (b.kind === "toc" ? { kind: "toc", entries: headings } : b));
}

/** Runs, pass, drift, other and the pass rate: the cells a pass-rate row ends with. */
function rateCells(r: { runs: number; pass: number; drift: number; other: number }): string[] {
  return [String(r.runs), String(r.pass), String(r.drift), String(r.other), rate(r.pass, r.runs)];
}
