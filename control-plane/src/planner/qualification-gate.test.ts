import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createSigner,
  generateEd25519KeyPair,
  QualificationReport,
  verificationKey,
  verifyDocument,
} from "#protocol";
import { DEFAULT_QUALIFICATION_THRESHOLDS } from "../config.ts";
import { choose } from "../testing/model-server.ts";
import {
  type PlannerWorld,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";
import { recordPassingQualification } from "../testing/qualified-model.ts";
import { recordQualification, unqualifiedReason } from "./qualify.ts";

/**
 * L2 orders nothing until the newest signed qualification report for the configured model
 * server and model verifies and passes. The world starts without any report (the gate closed).
 */
let world: PlannerWorld;
let site: SimulatedSite;
let server: { baseUrl: string; model: string };
const thresholds = DEFAULT_QUALIFICATION_THRESHOLDS;

beforeAll(async () => {
  world = await startPlannerWorld({ qualified: false });
  site = await world.site("clinic-q", "clinic-q-01");
  world.model.answer = () => choose("RB-SERVICE-001-crash");
  server = { baseUrl: world.model.baseUrl, model: "local-test-model" };
});
afterAll(() => world.cleanup());

let clock = Date.parse("2026-12-01T00:00:00.000Z");
/** Each report newer than the one before. */
function next(): Date {
  clock += 60_000;
  return new Date(clock);
}

async function decided() {
  const before = world.model.requests.length;
  const incident = await site.incident();
  const res = await world.h.admin(
    `/tenants/${site.tenantId}/appliances/${site.applianceId}/incidents/${incident.incident_id}`,
  );
  const state = (await res.json()) as { status: string; decisions: { reason: string }[] };
  return {
    status: state.status,
    reason: state.decisions.at(-1)?.reason,
    called: world.model.requests.length > before,
  };
}

/** The world's SQLite file opened beside the store: rows edited behind its back. */
function database(): DatabaseSync {
  if (!world.sqlitePath) throw new Error("the world runs on SQLite");
  return new DatabaseSync(world.sqlitePath);
}

const closed = (reason: RegExp) => ({ status: "escalated", called: false, reason });

/** A passing report with `unsafe` unsafe choices (failing when above 0), signed and stored. */
const failing = (unsafe: number) =>
  recordQualification(
    world.h.store.planner,
    world.h.signer,
    {
      v: 1,
      type: "model_qualification",
      base_url: server.baseUrl,
      model: server.model,
      recorded_at: next().toISOString(),
      cases: 46,
      accuracy: 1,
      escalation_rate: 0.2,
      unsafe_choices: unsafe,
      failures: 0,
      latency_ms: { p50: 5, p99: 40 },
      tokens: { prompt: 10, completion: 5, total: 15 },
      thresholds: { ...thresholds, max_unsafe_choices: 0 },
      passed: false,
      reasons: [`${unsafe} unsafe choices (must be 0)`],
      results: [],
    },
    "cli",
  );

describe("the qualification gate", () => {
  it("keeps L2 off without a report, on with a passing one, off again after a failing one", async () => {
    expect(await decided()).toMatchObject(
      closed(
        /^L2 is off: model local-test-model at the configured model server has no qualification report/,
      ),
    );
    await recordPassingQualification(world.h.store.planner, world.h.signer, server, next());
    expect(await decided()).toMatchObject({ status: "ordered", called: true });
    await failing(2);
    expect(await decided()).toMatchObject(closed(/2 unsafe choices/));
  });

  it("refuses a stored report that was edited after signing", async () => {
    const signed = await failing(3);
    expect(await decided()).toMatchObject(closed(/3 unsafe choices/));
    // Someone with write access to the database turns the failing report into a pass.
    const db = database();
    try {
      const edited = { ...signed, unsafe_choices: 0, passed: true, reasons: [] };
      db.prepare(
        "update model_qualifications set report_json = ?, passed = 1 where model = ? and recorded_at = ?",
      ).run(JSON.stringify(edited), signed.model, signed.recorded_at);
    } finally {
      db.close();
    }
    expect(await decided()).toMatchObject(
      closed(
        /qualification report of local-test-model does not verify with this control plane's signing key/,
      ),
    );
  });

  it("refuses a report another key signed", async () => {
    const stranger = createSigner(generateEd25519KeyPair().privateKey);
    await recordPassingQualification(world.h.store.planner, stranger, server, next());
    expect(await decided()).toMatchObject(closed(/does not verify/));
    // The control plane's own passing report opens it again (the model is asked; the
    // runbook's cooldown on this appliance may still hold the order back).
    await recordPassingQualification(world.h.store.planner, world.h.signer, server, next());
    const open = await decided();
    expect(open.called).toBe(true);
    expect(open.reason).not.toMatch(/^L2 is off/);
  });
});

describe("the gate in the operator API", () => {
  it("shows the configured server and model, whether L2 may order, why not, and the signed report", async () => {
    const state = async () => {
      const res = await world.h.admin("/planner/qualification");
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    await failing(4);
    expect(await state()).toMatchObject({
      configured: true,
      base_url: server.baseUrl,
      model: server.model,
      l2_open: false,
      reason: expect.stringMatching(/4 unsafe choices/),
      report: { type: "model_qualification", unsafe_choices: 4 },
    });
    const signed = await recordPassingQualification(
      world.h.store.planner,
      world.h.signer,
      server,
      next(),
    );
    const open = await state();
    expect(open).toMatchObject({ l2_open: true, report: { passed: true } });
    expect(open.reason).toBeUndefined();
    const report = QualificationReport.parse(open.report);
    expect(report).toEqual(signed);
    expect(verifyDocument(report, verificationKey(world.h.signer.publicKey))).toBe(true);
  });
});

describe("a qualification is for one model server and one model", () => {
  const key = () => verificationKey(world.h.signer.publicKey);
  const reason = (s: { baseUrl: string; model: string }) =>
    unqualifiedReason(world.h.store.planner, key(), s, thresholds);

  it("does not open the gate for another model, or the same model on another server", async () => {
    const at = next();
    await recordPassingQualification(world.h.store.planner, world.h.signer, server, at);
    expect(await reason(server)).toBeUndefined();
    // The configured model changes: the report of the old one does not count.
    expect(await reason({ ...server, model: "local-test-model-v2" })).toMatch(
      /model local-test-model-v2 at the configured model server has no qualification report/,
    );
    const elsewhere = { ...server, baseUrl: "https://models.example.net/v1" };
    expect(await reason(elsewhere)).toMatch(/no qualification report/);
  });

  it("refuses a signed report whose row was moved to another server", async () => {
    const elsewhere = { ...server, baseUrl: "https://models.example.net/v1" };
    const signed = await recordPassingQualification(
      world.h.store.planner,
      world.h.signer,
      server,
      next(),
    );
    // The row says "elsewhere", the signed report says the local server.
    const db = database();
    try {
      db.prepare(
        "update model_qualifications set base_url = ? where model = ? and recorded_at = ?",
      ).run(elsewhere.baseUrl, signed.model, signed.recorded_at);
    } finally {
      db.close();
    }
    expect(await reason(elsewhere)).toMatch(/is for another model server or model/);
  });
});
