import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCatalog, type Runbook } from "#catalog";
import { createSigner, generateEd25519KeyPair, type Order } from "#protocol";
import { openJournal } from "../journal.ts";
import { attemptLedger } from "./attempts.ts";
import { killSwitch, PAUSE_HEALING, RESUME_HEALING, withControlRunbooks } from "./kill-switch.ts";
import { catalogL1Rules, createL1Engine } from "./l1-engine.ts";
import type { L1Rule } from "./l1-rule-source.ts";
import { effectivePolicy } from "./policy.ts";

const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");
const catalog = await loadCatalog(REPO_ROOT);
const runbook = (id: string) => catalog.runbooks.find((r) => r.id === id) as Runbook;
const dir = mkdtempSync(join(tmpdir(), "healing-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const signer = createSigner(generateEd25519KeyPair().privateKey);
const ids = { tenantId: "clinic-a", applianceId: "clinic-a-01" };
const journalAt = (name: string) => openJournal(join(dir, name), ids, signer);
const MIN = 60_000;

describe("the L1 engine", () => {
  const engine = createL1Engine(catalog.runbooks);

  it("maps every L1 trigger of the catalog to its runbook, and nothing else", () => {
    expect(engine.match("services", "unit_failed")?.runbookId).toBe("RB-SERVICE-001-crash");
    expect(engine.match("firewall", "ssh_exposed")?.runbookId).toBe("RB-FIREWALL-001-drift");
    expect(engine.match("patching", "generation_mismatch")?.runbookId).toBe(
      "RB-PATCH-001-generation",
    );
    // RB-CPU-001-high is L2/L3 only: no local rule.
    expect(engine.match("services", "cpu_load_high")).toBeUndefined();
    expect(engine.match("patching", "generation_stale")).toBeUndefined();
    const l1 = catalog.runbooks.filter((r) => r.tiers.includes("L1"));
    const expected = l1.flatMap((r) => r.triggers.flatMap((t) => t.findings)).length;
    expect(catalogL1Rules(catalog.runbooks)).toHaveLength(expected);
    expect(engine.rules().every((r) => r.source === "catalog")).toBe(true);
  });

  it("adds flywheel rules for shipped runbooks only; the catalog wins; newest version wins", () => {
    let rules: L1Rule[] = [
      {
        ruleId: "f1",
        check: "services",
        finding: "cpu_load_high",
        runbookId: "RB-CPU-001-high",
        source: "flywheel",
        version: 1,
      },
      {
        ruleId: "f2",
        check: "services",
        finding: "unit_failed",
        runbookId: "RB-CPU-001-high",
        source: "flywheel",
        version: 1,
      },
      {
        ruleId: "f3",
        check: "patching",
        finding: "generation_stale",
        runbookId: "RB-EVIL-001-x",
        source: "flywheel",
        version: 9,
      },
    ];
    const flywheel = createL1Engine(catalog.runbooks, { rules: () => rules });
    expect(flywheel.match("services", "cpu_load_high")?.ruleId).toBe("f1");
    expect(flywheel.match("services", "unit_failed")?.runbookId).toBe("RB-SERVICE-001-crash");
    expect(flywheel.match("patching", "generation_stale")).toBeUndefined();
    rules = [{ ...(rules[0] as L1Rule), ruleId: "f1-v2", version: 2 }];
    expect(flywheel.match("services", "cpu_load_high")?.ruleId).toBe("f1-v2");
  });
});

describe("cooldown, max attempts and backoff", () => {
  it("backs off exponentially, exhausts at max_attempts and survives a restart", () => {
    const rb = runbook("RB-SERVICE-001-crash"); // cooldown 15m, max_attempts 3
    const t0 = new Date("2026-11-25T10:00:00Z");
    const at = (ms: number) => new Date(t0.getTime() + ms);
    let journal = journalAt("ledger.sqlite");
    let ledger = attemptLedger(journal);
    expect(ledger.check(rb, t0)).toEqual({ kind: "allowed", attempt: 1 });
    expect(ledger.record(rb, t0)).toBe(1);
    expect(ledger.check(rb, at(14 * MIN)).kind).toBe("cooldown");
    expect(ledger.check(rb, at(15 * MIN))).toEqual({ kind: "allowed", attempt: 2 });
    ledger.record(rb, at(15 * MIN));
    // Second wait is twice the cooldown.
    expect(ledger.check(rb, at(44 * MIN)).kind).toBe("cooldown");
    expect(ledger.check(rb, at(45 * MIN)).kind).toBe("allowed");

    journal.close(); // restart: the count is in the journal, not in memory
    journal = journalAt("ledger.sqlite");
    ledger = attemptLedger(journal);
    expect(ledger.attempts(rb.id)).toBe(2);
    ledger.record(rb, at(45 * MIN));
    expect(ledger.check(rb, at(10 * 60 * MIN))).toMatchObject({ kind: "exhausted", attempts: 3 });
    // Another runbook has its own budget.
    expect(ledger.check(runbook("RB-DISK-001-full"), at(46 * MIN)).kind).toBe("allowed");
    // A quiet day resets the count.
    expect(ledger.check(rb, at(45 * MIN + 24 * 60 * MIN))).toEqual({ kind: "allowed", attempt: 1 });
    journal.close();
  });
});

describe("the kill switch", () => {
  const order = (runbook_id: string, tier: Order["tier"] = "L3", params: Order["params"] = {}) =>
    ({ runbook_id, tier, params, order_id: "6f1c1a8e-8a39-4c1c-9b1e-2d7f3c9a0b11" }) as Order;

  it("pauses and resumes only by an L3 order, and stays paused across a restart", () => {
    let journal = journalAt("switch.sqlite");
    const now = new Date("2026-11-25T10:00:00Z");
    let sw = killSwitch(journal);
    expect(sw.paused()).toBeUndefined();
    expect(sw.apply(order(PAUSE_HEALING, "L2"), now)).toEqual({
      problem: expect.stringMatching(/L3/),
    });
    expect(sw.apply(order(PAUSE_HEALING, "L3", { x: 1 }), now)).toEqual({
      problem: expect.stringMatching(/no params/),
    });
    expect(sw.paused()).toBeUndefined();
    expect(sw.apply(order(PAUSE_HEALING), now)).toEqual({ event: "paused" });
    journal.close();
    journal = journalAt("switch.sqlite");
    sw = killSwitch(journal);
    expect(sw.paused()).toMatchObject({ paused: true, since: now.toISOString() });
    expect(sw.apply(order(RESUME_HEALING), now)).toEqual({ event: "resumed" });
    expect(sw.paused()).toBeUndefined();
    journal.close();
  });

  it("is in the order allowlist without widening it", () => {
    const allowlist = withControlRunbooks({
      has: (id) => id === "RB-DISK-001-full",
      checkParams: () => "nope",
    });
    expect(allowlist.has(PAUSE_HEALING)).toBe(true);
    expect(allowlist.has("RB-OTHER-001-x")).toBe(false);
    expect(allowlist.checkParams?.(PAUSE_HEALING, {})).toBeNull();
    expect(allowlist.checkParams?.(PAUSE_HEALING, { unit: "x" })).toMatch(/no params/);
    expect(allowlist.checkParams?.("RB-DISK-001-full", {})).toBe("nope");
  });
});

describe("the audit-only policy", () => {
  const enforce = { mode: "enforce" as const, audit_only_checks: [], check_interval_s: 300 };

  it("takes the stricter of local config and site settings", () => {
    expect(effectivePolicy(enforce, undefined).auditBlocks(runbook("RB-DISK-001-full"))).toBeNull();
    expect(effectivePolicy({ ...enforce, mode: "audit" }, undefined).auditOnly("services")).toBe(
      true,
    );
    const site = effectivePolicy(enforce, { mode: "audit", audit_only_checks: [] });
    expect(site.auditBlocks(runbook("RB-DISK-001-full"))).toMatch(/site setting/);
    const perCheck = effectivePolicy(
      { ...enforce, audit_only_checks: ["firewall"] },
      { mode: "enforce", audit_only_checks: ["backups"] },
    );
    expect(perCheck.auditOnly("firewall")).toBe(true);
    expect(perCheck.auditOnly("backups")).toBe(true);
    expect(perCheck.auditOnly("services")).toBe(false);
    expect(perCheck.auditBlocks(runbook("RB-FIREWALL-001-drift"))).toMatch(/firewall/);
    // RB-PATCH triggers on backups findings too, so a backups audit blocks it.
    expect(perCheck.auditBlocks(runbook("RB-PATCH-001-generation"))).toMatch(/backups/);
  });
});
