import { bundleHash, type EvidenceBundle } from "#protocol";

/**
 * What the packet derives from each appliance's chain in one pass: every finding with when it was
 * first seen and resolved, and monitoring coverage (expected check runs against actual, and the
 * gaps). Times are the appliance's recorded time, as in the end-of-period state, so the three
 * agree with `verify-export --as-of`.
 */
export interface EvidenceRef {
  readonly applianceId: string;
  readonly seq: number;
  /** The bundle hash (hex SHA-256), shown shortened. */
  readonly hash: string;
}

export interface FindingRow {
  readonly applianceId: string;
  readonly checkId: string;
  readonly code: string;
  readonly subject: string;
  readonly firstSeen: string;
  /** null: still open at the end of the period. */
  readonly resolved: string | null;
  /** Seconds from first seen to resolved, or to the end of the period when open. */
  readonly ageS: number;
  readonly firstRef: EvidenceRef;
  readonly resolvedRef: EvidenceRef | null;
}

interface Open {
  readonly code: string;
  readonly subject: string;
  readonly firstSeen: string;
  readonly firstRef: EvidenceRef;
}

export class FindingTracker {
  /** appliance + check → finding key → when it was first seen. */
  private readonly open = new Map<string, Map<string, Open>>();
  private readonly closed: FindingRow[] = [];
  private readonly end: string;
  private readonly endMs: number;
  constructor(end: string) {
    this.end = end;
    this.endMs = Date.parse(end);
  }

  /** `known` is the bundle's hash when the caller has it already. */
  observe(applianceId: string, b: EvidenceBundle, known?: string): void {
    const e = b.event;
    if (e.kind !== "check_result" || !(Date.parse(b.recorded_at) <= this.endMs)) return;
    // skipped and error say nothing about a finding: it stays as it was.
    if (e.status !== "pass" && e.status !== "drift") return;
    const slot = `${applianceId}\u0000${e.check_id}`;
    const open = this.open.get(slot) ?? new Map<string, Open>();
    const present = new Set<string>();
    let hash = known;
    const ref = (): EvidenceRef => {
      const h = hash ?? bundleHash(b);
      hash = h;
      return { applianceId, seq: b.seq, hash: h };
    };
    for (const f of e.status === "drift" ? e.findings : []) {
      const key = `${f.code}\u0000${f.subject ?? ""}`;
      present.add(key);
      if (!open.has(key))
        open.set(key, {
          code: f.code,
          subject: f.subject ?? "",
          firstSeen: b.recorded_at,
          firstRef: ref(),
        });
    }
    for (const [key, o] of open) {
      if (present.has(key)) continue;
      open.delete(key);
      this.closed.push(row(applianceId, e.check_id, o, b.recorded_at, ref()));
    }
    if (open.size > 0) this.open.set(slot, open);
    else this.open.delete(slot);
  }

  /** The findings open at any time in [from, end]: resolved in the period, or still open. */
  rows(from: string): FindingRow[] {
    const stillOpen = [...this.open.entries()].flatMap(([slot, m]) => {
      const [applianceId, checkId] = slot.split("\u0000") as [string, string];
      return [...m.values()].map((o) => row(applianceId, checkId, o, null, null, this.end));
    });
    return [...this.closed.filter((r) => (r.resolved ?? "") >= from), ...stillOpen].sort(
      (x, y) => x.firstSeen.localeCompare(y.firstSeen) || x.firstRef.seq - y.firstRef.seq,
    );
  }
}

function row(
  applianceId: string,
  checkId: string,
  o: Open,
  resolved: string | null,
  resolvedRef: EvidenceRef | null,
  end?: string,
): FindingRow {
  const until = resolved ?? end ?? o.firstSeen;
  return {
    applianceId,
    checkId,
    code: o.code,
    subject: o.subject,
    firstSeen: o.firstSeen,
    resolved,
    ageS: Math.max(0, Math.round((Date.parse(until) - Date.parse(o.firstSeen)) / 1000)),
    firstRef: o.firstRef,
    resolvedRef,
  };
}

export interface Gap {
  readonly from: string;
  readonly to: string;
  readonly seconds: number;
}

export interface Coverage {
  readonly applianceId: string;
  /** The part of the period the appliance was reporting for: from its first bundle on. */
  readonly windowFrom: string | null;
  readonly windowTo: string;
  readonly intervalS: number;
  /** Per check: runs expected at the interval over the window, and runs recorded. */
  readonly checks: readonly { checkId: string; expected: number; actual: number }[];
  /** Stretches longer than GAP_FACTOR intervals without any check result. */
  readonly gaps: readonly Gap[];
}

/** A gap is a stretch without check results longer than this many check intervals. */
export const GAP_FACTOR = 3;

export class CoverageTracker {
  private first: string | null = null;
  private last: string | null = null;
  private readonly runs = new Map<string, number>();
  private readonly gaps: Gap[] = [];
  private readonly fromMs: number;
  private readonly endMs: number;
  private readonly applianceId: string;
  private readonly period: { from: string; end: string };
  private readonly intervalS: number;
  private readonly checkIds: readonly string[];
  constructor(
    applianceId: string,
    period: { from: string; end: string },
    intervalS: number,
    checkIds: readonly string[],
  ) {
    this.applianceId = applianceId;
    this.period = period;
    this.intervalS = intervalS;
    this.checkIds = checkIds;
    this.fromMs = Date.parse(period.from);
    this.endMs = Date.parse(period.end);
  }

  observe(b: EvidenceBundle): void {
    const at = Date.parse(b.recorded_at);
    if (this.first === null) this.first = b.recorded_at;
    if (b.event.kind !== "check_result" || at < this.fromMs || at > this.endMs) return;
    this.runs.set(b.event.check_id, (this.runs.get(b.event.check_id) ?? 0) + 1);
    const previous = this.last ?? this.windowFrom();
    if (previous !== null) this.gap(previous, b.recorded_at);
    this.last = b.recorded_at;
  }

  private windowFrom(): string | null {
    if (this.first === null) return null;
    return Date.parse(this.first) > this.fromMs ? this.first : this.period.from;
  }

  private gap(from: string, to: string) {
    const seconds = Math.round((Date.parse(to) - Date.parse(from)) / 1000);
    if (seconds > GAP_FACTOR * this.intervalS) this.gaps.push({ from, to, seconds });
  }

  result(): Coverage {
    const windowFrom = this.windowFrom();
    if (windowFrom !== null) this.gap(this.last ?? windowFrom, this.period.end);
    const windowS =
      windowFrom === null ? 0 : Math.max(0, (this.endMs - Date.parse(windowFrom)) / 1000);
    const expected = Math.floor(windowS / this.intervalS);
    const ids = [...new Set([...this.checkIds, ...this.runs.keys()])].sort();
    return {
      applianceId: this.applianceId,
      windowFrom,
      windowTo: this.period.end,
      intervalS: this.intervalS,
      checks: ids.map((checkId) => ({ checkId, expected, actual: this.runs.get(checkId) ?? 0 })),
      gaps: this.gaps,
    };
  }
}
