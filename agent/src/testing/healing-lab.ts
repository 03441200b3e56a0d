import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCatalog } from "#catalog";
import {
  createSigner,
  type EvidenceEvent,
  generateEd25519KeyPair,
  type Order,
  type SealedBundle,
} from "#protocol";
import { createCheckRunner, type DriftCheckRunner } from "../checks/runner.ts";
import { labExpected, RESTORE_TEST_DIR } from "../checks/testing.ts";
import { type AgentConfig, parseConfig } from "../config.ts";
import type { HealingHooks } from "../deps.ts";
import { createHealing } from "../healing/index.ts";
import { cleanLabState, createLabHost, type LabHost, type LabState } from "../host/lab/index.ts";
import { type Journal, openJournal } from "../journal.ts";
import { acceleratedClock } from "../ports.ts";

/**
 * A lab appliance with the real six checks, the real healer and a real journal, for the healing
 * tests and the bench: `cycle()` runs the checks, records them and lets the healer act, as the
 * agent loop does; `order()` runs a signed order's runbook through the same executor.
 */
export const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");
export { RESTORE_TEST_DIR };

const catalog = await loadCatalog(REPO_ROOT);
const ids = { tenantId: "clinic-lab", applianceId: "clinic-lab-01" };

export interface HealingLab {
  readonly host: LabHost;
  readonly clock: ReturnType<typeof acceleratedClock>;
  readonly checks: DriftCheckRunner;
  readonly journal: Journal;
  readonly config: AgentConfig;
  healing: HealingHooks;
  /** One round: checks, evidence, L1 healing. Returns the events it recorded. */
  cycle(): Promise<EvidenceEvent[]>;
  /** Runs an order's runbook as the agent would after verifying it. */
  order(
    runbookId: string,
    params?: Order["params"],
    tier?: Order["tier"],
  ): Promise<{ outcome: string; detail?: string; events: EvidenceEvent[] }>;
  /** Closes and reopens the journal and rebuilds the healer (an agent restart). */
  restart(): void;
  events(): EvidenceEvent[];
  close(): void;
}

export interface HealingLabOptions {
  readonly start?: Date;
  readonly healing?: Record<string, unknown>;
  readonly site?: { mode: "enforce" | "audit"; audit_only_checks: string[] };
  readonly mutate?: (state: LabState, now: Date) => void;
}

/** Sunday 03:00 in New York: inside the window below. */
export const IN_WINDOW = new Date("2026-11-22T08:00:00Z");
export const OUT_OF_WINDOW = new Date("2026-11-25T15:00:00Z");
export const WINDOW = {
  days: ["sun"],
  start: "02:00",
  duration_minutes: 180,
  time_zone: "America/New_York",
};

export function createHealingLab(options: HealingLabOptions = {}): HealingLab {
  const dir = mkdtempSync(join(tmpdir(), "healing-lab-"));
  const clock = acceleratedClock(options.start ?? IN_WINDOW);
  const state = cleanLabState(clock.now());
  // The clean state's facts are the expected ones; drift is injected after they are noted.
  const expected = labExpected(state);
  options.mutate?.(state, clock.now());
  const host = createLabHost({ state, clock, restoreTestDir: RESTORE_TEST_DIR });
  const config = parseConfig({
    control_plane_url: "https://cp.example.net",
    order_signing_public_key: `${"A".repeat(43)}=`,
    ca_bundle_path: join(dir, "ca.pem"),
    state_dir: dir,
    evidence_key_path: join(dir, "evidence.pem"),
    tls_key_path: join(dir, "tls.pem"),
    catalog_dir: REPO_ROOT,
    step_timeout_s: 30,
    host: expected,
    healing: { maintenance_window: WINDOW, ...options.healing },
  });
  const checks = createCheckRunner({
    host,
    baseline: catalog.baseline,
    expected: config.host,
    restoreTestDir: RESTORE_TEST_DIR,
    clock,
    checkTimeoutMs: 10_000,
    toolTimeoutMs: 5_000,
  });
  const signer = createSigner(generateEd25519KeyPair().privateKey);
  const path = join(dir, "journal.sqlite");
  const factory = createHealing({ catalog, config, host, checks, clock });
  const settings = {
    poll_interval_s: 60,
    poll_jitter: 0.1,
    evidence_batch_max: 200,
    ...(options.site ? { healing: options.site } : {}),
  };
  const build = (journal: Journal) => factory({ journal, identity: ids, settings });

  let journal = openJournal(path, ids, signer);
  const lab: HealingLab = {
    host,
    clock,
    checks,
    get journal() {
      return journal;
    },
    config,
    healing: build(journal),
    async cycle() {
      const from = journal.head().seq;
      const signal = new AbortController().signal;
      const results = await checks.runAll(signal);
      const sealed: SealedBundle[] = journal.append(results, clock.now());
      await lab.healing.afterChecks(sealed, signal);
      return since(journal, from);
    },
    async order(runbookId, params = {}, tier = "L3") {
      const from = journal.head().seq;
      const order = {
        order_id: crypto.randomUUID(),
        runbook_id: runbookId,
        params,
        tier,
      } as unknown as Order;
      const result = await lab.healing.executor.execute(order, {
        signal: new AbortController().signal,
        record: (event) => {
          journal.append([event], clock.now());
        },
      });
      return { ...result, events: since(journal, from) };
    },
    restart() {
      journal.close();
      journal = openJournal(path, ids, signer);
      lab.healing = build(journal);
    },
    events: () => since(journal, 0),
    close() {
      journal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return lab;
}

function since(journal: Journal, seq: number): EvidenceEvent[] {
  return journal.bundlesFrom(seq + 1, 100_000).map((b) => b.bundle.event);
}

export type Attempt = Extract<EvidenceEvent, { kind: "healing_attempt" }>;
export type HealingStep = Extract<EvidenceEvent, { kind: "healing_step" }>;
export const attempts = (events: EvidenceEvent[]) =>
  events.filter((e): e is Attempt => e.kind === "healing_attempt");
export const steps = (events: EvidenceEvent[]) =>
  events.filter((e): e is HealingStep => e.kind === "healing_step");
export const checkResult = (events: EvidenceEvent[], id: string) =>
  events.find(
    (e): e is Extract<EvidenceEvent, { kind: "check_result" }> =>
      e.kind === "check_result" && e.check_id === id,
  );
