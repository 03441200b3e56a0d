import type { Block } from "./blocks.ts";
import type { PacketData } from "./gather.ts";

/**
 * The parts of the packet written for people rather than for sampling: the cover with the
 * sign-off, the one-page summary for the practice's office manager, the scope statement, and the
 * sections that read the evidence as a whole (appliances, coverage, findings, controls).
 */
/** A rate in words: "no data" where nothing ran, never a 0 % that reads as all failed. */
export const rate = (n: number, d: number) =>
  d === 0 ? "no data" : `${Math.round((1000 * n) / d) / 10}%`;
/** An evidence reference an auditor can look up in the export: appliance, seq, short hash. */
export const shortRef = (r: { applianceId: string; seq: number; hash: string }) =>
  `${r.applianceId} #${r.seq} ${r.hash.slice(0, 12)}`;

/** A duration in words for people: days and hours, or minutes under an hour. */
export function age(seconds: number): string {
  if (seconds < 3600) return `${Math.max(0, Math.round(seconds / 60))} min`;
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  return d > 0 ? `${d} d ${h} h` : `${h} h`;
}

export function periodText(p: PacketData): string {
  return p.period.partial
    ? `${p.month} (PARTIAL: the month in progress, up to ${p.period.end})`
    : `${p.month} (complete month)`;
}

const notWorm = (p: PacketData) => p.archiveKind !== "s3";

/** Which version this is and, from version 2 on, what it replaces and why. */
export function versionText(p: PacketData): string {
  const e = p.edition;
  if (!e) return "1";
  if (e.version === 1) return "1 (the first packet of this month)";
  return `${e.version}, replaces version ${e.version - 1} (manifest SHA-256 ${e.previousManifestSha256 ?? "not recorded"}); reason: ${e.reason ?? "-"}`;
}

export function coverBlocks(p: PacketData): Block[] {
  return [
    { kind: "title", text: `HIPAA compliance packet: ${p.tenantId}, ${periodText(p)}` },
    {
      kind: "table",
      columns: ["", ""],
      rows: [
        ["Client (site)", p.tenantId],
        [
          "Period (UTC)",
          `${p.period.from} to ${p.period.end}${p.period.partial ? " (partial: the month is not over)" : ""}`,
        ],
        ["Generated", p.generatedAt],
        ["Version", versionText(p)],
        ["Appliances", p.appliances.join(", ") || "none"],
        ["Baseline", `${p.baseline.id} version ${p.baseline.version}`],
        ["Control-plane key id", p.controlPlaneKeyId ?? "-"],
        [
          "Evidence archive",
          notWorm(p)
            ? `LAB / NOT WORM: ${p.archiveKind}, a local directory, NOT write-once storage`
            : "S3 Object Lock (WORM, COMPLIANCE mode)",
        ],
      ],
    },
    ...(notWorm(p)
      ? [
          {
            kind: "para" as const,
            text: `LAB / NOT WORM: this control plane archives evidence to a local directory (${p.archiveKind}), which is NOT write-once storage. Production archives to S3 Object Lock.`,
          },
        ]
      : []),
    {
      kind: "para",
      text: `Site ${p.tenantId}, appliances ${p.appliances.join(", ") || "none"}. Generated ${p.generatedAt} by the control plane from signed appliance evidence received in ${p.month} (UTC).`,
    },
    {
      kind: "table",
      columns: ["Sign-off", "Name", "Date", "Signature"],
      rows: [
        ["Prepared by (MSP)", "", "", ""],
        ["Reviewed by (practice)", "", "", ""],
      ],
    },
  ];
}

export function summaryBlocks(p: PacketData): Block[] {
  const states = p.integrity.flatMap((i) => i.endOfPeriod.map((c) => ({ ...c, a: i.applianceId })));
  const good = states.filter((s) => s.status === "pass");
  const bad = states.filter((s) => s.status !== "pass");
  const open = p.findings.filter((f) => f.resolved === null);
  const inForce = p.exceptions.filter((e) => !e.expired);
  const expected = p.coverage.reduce((n, c) => n + c.checks.reduce((m, k) => m + k.expected, 0), 0);
  const actual = p.coverage.reduce((n, c) => n + c.checks.reduce((m, k) => m + k.actual, 0), 0);
  const escalated = p.incidents.filter((i) => i.status === "escalated");
  const allVerified = p.integrity.every((i) => i.chainVerified);
  const lines: Block[] = [
    { kind: "heading", text: "Summary for the practice" },
    {
      kind: "para",
      text: `This packet covers ${periodText(p)}. Your managed service provider watches ${p.appliances.length} compliance appliance(s) at your practice. Each one checks your systems about every ${Math.round(p.coverage[0]?.intervalS ?? 300) / 60} minutes and records what it sees in signed records that cannot be changed afterwards without it showing.`,
    },
    {
      kind: "para",
      text:
        states.length === 0
          ? "In good shape: no data. The appliances recorded no check results by the end of the period."
          : `In good shape: at the end of the period ${good.length} of ${states.length} checks were passing${good.length ? ` (${[...new Set(good.map((g) => g.check_id))].join(", ")})` : ""}.`,
    },
    {
      kind: "para",
      text:
        bad.length === 0 && open.length === 0
          ? "Open: nothing. No check was failing at the end of the period."
          : `Open: ${bad.length} check(s) not passing at the end of the period (${bad.map((b) => `${b.check_id} on ${b.a}: ${b.status}`).join("; ") || "none"}); ${open.length} problem(s) still open, the oldest for ${age(Math.max(0, ...open.map((f) => f.ageS)))}.`,
    },
    {
      kind: "para",
      text: `What your MSP is doing: ${p.remediations.filter((r) => r.outcome === "healed").length} problem(s) were fixed automatically or by an approved order this period; ${escalated.length} waiting for an engineer's decision; ${p.orders.filter((o) => o.status === "pending" || o.status === "delivered").length} order(s) not yet carried out.`,
    },
    {
      kind: "para",
      text:
        inForce.length === 0
          ? "Exceptions in force: none. Every baseline setting applies."
          : `Exceptions in force (settings your practice agreed to relax, each with an owner and an end date): ${inForce.map((e) => `${e.toggle} (risk ${e.risk}, owner ${e.owner}, until ${e.expiresOn})`).join("; ")}.`,
    },
    {
      kind: "para",
      text: `Monitoring: the appliances ran ${actual} of about ${expected} expected checks (${rate(actual, expected)}); ${p.coverage.reduce((n, c) => n + c.gaps.length, 0)} gap(s) longer than 15 minutes. Records: ${allVerified ? "all signed records verified" : "SOME RECORDS DID NOT VERIFY: see the integrity section"}.`,
    },
    {
      kind: "para",
      text: "This is a record of technical safeguards on the computers the appliances manage. It is not a HIPAA attestation or a risk analysis: those remain the practice's.",
    },
  ];
  return lines;
}

export function scopeBlocks(p: PacketData): Block[] {
  return [
    { kind: "heading", text: "Scope" },
    {
      kind: "para",
      text: `In scope: the technical safeguards of the HIPAA Security Rule (45 CFR 164.312, with the parts of 164.308 and 164.310 the baseline names) on the hosts managed by the appliances listed below, as observed by their drift checks against baseline ${p.baseline.id} version ${p.baseline.version}, and what was done about each finding. Facts come from evidence the control plane received between ${p.period.from} and ${p.period.end} (UTC); end-of-period state uses the appliances' recorded time.`,
    },
    {
      kind: "para",
      text: "Out of scope, and who owns it: the practice's risk analysis and risk management plan, policies, workforce training, business associate agreements and physical safeguards (the practice, with its compliance officer); the EHR and other applications and their vendors' controls (each vendor); devices not managed by an appliance (the practice and its MSP contract). This packet is evidence for an assessment; it is not a HIPAA attestation and does not certify compliance.",
    },
  ];
}

export function applianceBlocks(p: PacketData): Block[] {
  const keyOf = new Map(p.integrity.map((i) => [i.applianceId, i.evidenceKeyId]));
  return [
    { kind: "heading", text: "Appliances" },
    {
      kind: "para",
      text: "Hostname and agent version are what each appliance reported at enrollment; the evidence key id is the one it showed on its console and signed as the first record of its chain.",
    },
    {
      kind: "table",
      columns: ["Appliance", "Hostname", "Agent", "Status", "Enrolled", "Evidence key id"],
      rows: p.applianceInfo.map((a) => [
        a.applianceId,
        a.hostname,
        a.agentVersion,
        a.status,
        a.enrolledAt,
        keyOf.get(a.applianceId) ?? "-",
      ]),
    },
  ];
}

export function coverageBlocks(p: PacketData): Block[] {
  return [
    { kind: "heading", text: "Monitoring coverage and gaps" },
    {
      kind: "para",
      text: `Expected runs: one per check every ${p.coverage[0]?.intervalS ?? 300} s (the agent's default interval) from the start of the period, or from the appliance's first record if later, to ${p.period.end}. A gap is a stretch of more than three intervals with no check result.`,
    },
    {
      kind: "table",
      columns: ["Appliance", "Check", "Expected", "Recorded", "Coverage"],
      rows: p.coverage.flatMap((c) =>
        c.checks.map((k) => [
          c.applianceId,
          k.checkId,
          String(k.expected),
          String(k.actual),
          rate(Math.min(k.actual, k.expected), k.expected),
        ]),
      ),
    },
    {
      kind: "table",
      columns: ["Appliance", "Gap from (UTC)", "Gap to (UTC)", "Length"],
      empty: "No gaps in this period.",
      rows: p.coverage.flatMap((c) =>
        c.gaps.map((g) => [c.applianceId, g.from, g.to, age(g.seconds)]),
      ),
    },
  ];
}

export function findingBlocks(p: PacketData): Block[] {
  return [
    { kind: "heading", text: "Findings" },
    {
      kind: "para",
      text: "Every finding open at any time in the period: when a check first reported it, when a later run of the same check no longer did (resolved), and its age (to resolution, or to the end of the period while open).",
    },
    {
      kind: "table",
      columns: [
        "Appliance",
        "Check",
        "Finding",
        "Subject",
        "First seen",
        "Resolved",
        "Age",
        "Evidence",
      ],
      rows: p.findings.map((f) => [
        f.applianceId,
        f.checkId,
        f.code,
        f.subject,
        f.firstSeen,
        f.resolved ?? "OPEN",
        age(f.ageS),
        `${shortRef(f.firstRef)}${f.resolvedRef ? `; resolved ${shortRef(f.resolvedRef)}` : ""}`,
      ]),
    },
  ];
}

export function controlsBlocks(p: PacketData): Block[] {
  const state = new Map<string, string[]>();
  for (const i of p.integrity)
    for (const c of i.endOfPeriod)
      state.set(c.check_id, [
        ...(state.get(c.check_id) ?? []),
        `${c.status} at end (${i.applianceId} #${c.seq} ${c.hash.slice(0, 12)})`,
      ]);
  const runs = new Map(p.checkRates.map((r) => [r.checkId, r]));
  return [
    { kind: "heading", text: "Controls matrix" },
    {
      kind: "para",
      text: "Each citation of baseline/controls-map.csv, whether it is required (R) or addressable (A), how far the baseline covers it, and the evidence that supports it: the checks that observe it, their runs in the period and their state at the end with the bundle behind it.",
    },
    {
      kind: "table",
      columns: ["Citation", "Title", "R/A", "Coverage", "Evidence"],
      rows: p.controls.map((r) => {
        const checks = r.checks ? r.checks.split(", ") : [];
        const evidence = checks.map((c) => {
          const k = runs.get(c);
          const ran = k ? `${k.runs} runs, ${rate(k.pass, k.runs)} pass` : "no data";
          return `${c}: ${ran}; ${(state.get(c) ?? ["no state"]).join("; ")}`;
        });
        return [
          r.citation,
          r.title,
          r.requirement,
          r.coverage,
          evidence.join(" | ") || (r.coverage === "none" ? "not covered by the baseline" : "-"),
        ];
      }),
    },
  ];
}
