import type { PacketData } from "./gather.ts";

/**
 * The packet as a list of blocks, rendered twice (Markdown and PDF) so both state exactly the
 * same sections and figures.
 */
export type Block =
  | { readonly kind: "title"; readonly text: string }
  | { readonly kind: "heading"; readonly text: string }
  | { readonly kind: "para"; readonly text: string }
  | {
      readonly kind: "table";
      readonly columns: readonly string[];
      readonly rows: readonly (readonly string[])[];
    }
  | {
      readonly kind: "chart";
      readonly bars: readonly { label: string; percent: number; note: string }[];
    };

const pct = (n: number, d: number) => (d === 0 ? 0 : Math.round((1000 * n) / d) / 10);
const cut = (s: string, n = 90) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function packetBlocks(p: PacketData): Block[] {
  const notWorm = p.archiveKind !== "s3";
  const c = p.counts;
  const totalRuns = p.checkRates.reduce((s, r) => s + r.runs, 0);
  const totalPass = p.checkRates.reduce((s, r) => s + r.pass, 0);
  const expired = p.exceptions.filter((e) => e.expired).length;
  const healed = p.remediations.filter((r) => r.outcome === "healed").length;
  const blocks: Block[] = [
    { kind: "title", text: `HIPAA compliance packet: ${p.tenantId}, ${p.month}` },
    {
      kind: "para",
      text: `Site ${p.tenantId}, appliances ${p.appliances.join(", ") || "none"}. Generated ${p.generatedAt} by the control plane from signed appliance evidence received in ${p.month} (UTC). Baseline ${p.baseline.id} version ${p.baseline.version}.`,
    },
    ...(notWorm
      ? [
          {
            kind: "para" as const,
            text: `LAB / NOT WORM: this control plane archives evidence to a local directory (${p.archiveKind}), which is NOT write-once storage. Production archives to S3 Object Lock.`,
          },
        ]
      : []),
    { kind: "heading", text: "Executive summary" },
    {
      kind: "table",
      columns: ["Figure", "Value"],
      rows: [
        ["Evidence bundles", String(c.bundles)],
        ["Check results", String(c.check_results)],
        ["Check pass rate", `${pct(totalPass, totalRuns)}%`],
        ["Healing attempts (appliance L1)", String(c.healing_attempts)],
        ["Healed by the appliance", String(healed)],
        ["Incidents", String(c.incidents)],
        ["Control-plane decisions (L1/L2/L3)", String(c.decisions)],
        ["Exceptions (expired)", `${p.exceptions.length} (${expired})`],
        [
          "Evidence chains verified",
          p.integrity.every((i) => i.chainVerified) ? "all" : "NOT ALL: see integrity",
        ],
      ],
    },
    { kind: "heading", text: "Baseline and toggles" },
    { kind: "para", text: `${p.baseline.title} (${p.toggles.length} toggles).` },
    {
      kind: "table",
      columns: ["Toggle", "Area", "Value", "Citations"],
      rows: p.toggles.map((t) => [t.id, t.area, cut(t.value, 30), cut(t.citations, 50)]),
    },
    { kind: "heading", text: "Controls coverage matrix" },
    {
      kind: "table",
      columns: ["Citation", "Title", "R/A", "Coverage", "Checks"],
      rows: p.controls.map((r) => [
        r.citation,
        cut(r.title, 40),
        r.requirement,
        r.coverage,
        r.checks || "-",
      ]),
    },
    { kind: "heading", text: "Check pass rates" },
    {
      kind: "chart",
      bars: p.checkRates.map((r) => ({
        label: r.checkId,
        percent: pct(r.pass, r.runs),
        note: `${r.pass}/${r.runs}`,
      })),
    },
    {
      kind: "table",
      columns: ["Check", "Runs", "Pass", "Drift", "Skipped/error", "Pass rate"],
      rows: p.checkRates.map((r) => [
        r.checkId,
        String(r.runs),
        String(r.pass),
        String(r.drift),
        String(r.other),
        `${pct(r.pass, r.runs)}%`,
      ]),
    },
    { kind: "heading", text: "Drift incidents and remediation" },
    {
      kind: "table",
      columns: ["Time (UTC)", "Appliance", "Tier", "Check", "Runbook", "Outcome", "By"],
      rows: p.remediations.map((r) => [
        r.at.slice(0, 19),
        r.applianceId,
        r.tier,
        r.checkId,
        r.runbookId,
        r.outcome,
        r.source,
      ]),
    },
    { kind: "heading", text: "Incidents escalated to the control plane" },
    {
      kind: "table",
      columns: ["Detected (UTC)", "Appliance", "Check", "Local L1", "Status", "Incident"],
      rows: p.incidents.map((i) => [
        i.detectedAt.slice(0, 19),
        i.applianceId,
        i.checkId,
        cut(i.localL1, 40),
        i.status,
        i.incidentId.slice(0, 8),
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
        cut(d.decidedBy, 30),
        d.runbookId || "-",
        cut(d.reason, 60),
      ]),
    },
    { kind: "heading", text: "Exceptions" },
    { kind: "para", text: `Source: ${p.exceptionsSource}.` },
    {
      kind: "table",
      columns: ["Toggle", "Risk", "Expires", "Approved by", "Status"],
      rows: p.exceptions.map((e) => [
        e.toggle,
        e.risk,
        e.expiresOn,
        cut(e.approvedBy, 40),
        e.expired ? "EXPIRED" : "in force",
      ]),
    },
    { kind: "heading", text: "Backups and test restores" },
    {
      kind: "para",
      text: `The backups check (backup age, last result and the weekly test restore) ran ${p.backups.runs} times and passed ${p.backups.pass} times (${pct(p.backups.pass, p.backups.runs)}%).`,
    },
    {
      kind: "table",
      columns: ["Finding", "Times reported"],
      rows: p.backups.findings.map((f) => [f.code, String(f.count)]),
    },
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
        text: `${i.applianceId}: evidence key id ${i.evidenceKeyId} (confirm it against the id the appliance showed at enrollment). Latest checkpoint ${i.checkpointCosigned ? "cosigned by the appliance as witness" : "NOT yet cosigned by the appliance"}. ${i.chainDetail}. Archived objects: ${i.archivedObjects.length} (${notWorm ? "archive kind local-not-worm: NOT WORM" : "S3 Object Lock, WORM"}), pending ${i.pendingObjects}.`,
      }),
    ),
    {
      kind: "table",
      columns: ["Archived object", "Archive", "Version id"],
      rows: p.integrity.flatMap((i) =>
        i.archivedObjects.map((o) => [o.key, o.archive, o.versionId ?? "-"]),
      ),
    },
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
  return blocks;
}
