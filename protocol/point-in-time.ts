/**
 * Point-in-time answers: the state of every check of one appliance at an instant, from its
 * evidence alone. The latest `check_result` recorded (appliance clock, inside the signed bytes)
 * at or before the instant decides; the line names the bundle (seq and hash) behind it, so an
 * auditor can look it up. The offline verifier and the packet's end-of-period state both use
 * this, so they cannot disagree on what "the state at" means.
 */
export interface CheckStateLine {
  readonly check_id: string;
  readonly status: string;
  readonly recorded_at: string;
  readonly seq: number;
  readonly hash: string;
}

export interface CheckResultBundle {
  readonly seq: number;
  readonly recorded_at: string;
  readonly event: { readonly kind: string; readonly check_id?: string; readonly status?: string };
}

export class CheckStatesAsOf {
  private readonly latest = new Map<string, CheckStateLine>();
  private readonly atMs: number;
  constructor(atMs: number) {
    this.atMs = atMs;
  }

  /** Feeds one bundle (any kind) with its hex bundle hash. */
  observe(bundle: CheckResultBundle, hash: string): void {
    const { event } = bundle;
    if (event.kind !== "check_result" || event.check_id === undefined) return;
    if (!(Date.parse(bundle.recorded_at) <= this.atMs)) return;
    const known = this.latest.get(event.check_id);
    if (known && known.seq > bundle.seq) return;
    this.latest.set(event.check_id, {
      check_id: event.check_id,
      status: event.status ?? "unknown",
      recorded_at: bundle.recorded_at,
      seq: bundle.seq,
      hash,
    });
  }

  lines(): CheckStateLine[] {
    return mergeCheckStates([[...this.latest.values()]]);
  }
}

/** Per check, the line of the highest seq among several partial answers; sorted by check id. */
export function mergeCheckStates(parts: readonly (readonly CheckStateLine[])[]): CheckStateLine[] {
  const best = new Map<string, CheckStateLine>();
  for (const part of parts) {
    for (const line of part) {
      const known = best.get(line.check_id);
      if (!known || line.seq > known.seq) best.set(line.check_id, line);
    }
  }
  return [...best.values()].sort((a, b) =>
    a.check_id < b.check_id ? -1 : a.check_id > b.check_id ? 1 : 0,
  );
}
