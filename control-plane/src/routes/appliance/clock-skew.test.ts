import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChainHead, EvidenceReceipt, GENESIS_HEAD, parseMessage } from "#protocol";
import { openSqliteStore } from "../../store/index.ts";
import {
  createHarness,
  type Harness,
  registerSite,
  simulatedAppliance,
} from "../../testing/harness.ts";
import { asAppliance, chain, enroll, upload } from "../../testing/in-process.ts";
import { FUTURE_TOLERANCE_MS } from "./clock-skew.ts";

const MINUTE = 60_000;

/**
 * The app on a real SQLite store, real enrollment and real signed bundles; the control plane's
 * clock is set by the test so the hourly alert limit can be crossed.
 */
describe("evidence timestamps are flagged, not trusted blindly", () => {
  let dir: string;
  let h: Harness;
  let nowMs = Date.now();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cp-skew-"));
    h = await createHarness(openSqliteStore(join(dir, "cp.sqlite")), {
      clock: () => new Date(nowMs),
    });
  });
  afterAll(async () => {
    await h.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function appliance(tenantId: string, applianceId: string) {
    const probe = await simulatedAppliance();
    const { token } = await registerSite(h, tenantId, applianceId, probe.mac);
    const a = await simulatedAppliance(token, probe.mac);
    const response = await enroll(h, a);
    if (response.status !== "enrolled") throw new Error("not enrolled");
    const call = asAppliance(h, response.client_certificate_pem);
    let head: ChainHead = GENESIS_HEAD;
    /** Seals bundles recorded at the given times and pushes them; all must be accepted. */
    const push = async (...recordedAt: number[]) => {
      const sealed = chain(a.evidenceSigner, tenantId, applianceId, recordedAt.length, head, (i) =>
        new Date(recordedAt[i] as number).toISOString(),
      );
      const res = await call(
        "/v1/appliance/evidence",
        upload(tenantId, applianceId, sealed.bundles),
      );
      expect(res.status).toBe(200);
      expect(parseMessage(EvidenceReceipt, res.json, "receipt").last_seq).toBe(sealed.head.seq);
      head = sealed.head;
    };
    const alerts = async () =>
      (
        (await (await h.admin(`/tenants/${tenantId}/alerts`)).json()) as {
          code: string;
          appliance_id?: string;
          detail: string;
        }[]
      ).filter((x) => x.code === "evidence_clock_skew");
    return { push, alerts };
  }

  it("accepts an outage backlog (old but in order) without a flag", async () => {
    const a = await appliance("skew-a", "a-01");
    const start = nowMs - 26 * 60 * MINUTE; // queued for 26 hours, flushed now
    await a.push(start, start + MINUTE, start + 2 * MINUTE);
    await a.push(start + 3 * MINUTE, nowMs - MINUTE, nowMs + FUTURE_TOLERANCE_MS - MINUTE);
    expect(await a.alerts()).toEqual([]);
  });

  it("flags a bundle recorded in the future beyond the tolerance, but stores it", async () => {
    const a = await appliance("skew-b", "b-01");
    await a.push(nowMs - MINUTE);
    await a.push(nowMs + 3 * 60 * MINUTE, nowMs + 3 * 60 * MINUTE + 1000);
    const alerts = await a.alerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.detail).toMatch(/appliance b-01 seq 2: recorded_at is 10800 s ahead/);
    expect(alerts[0]?.detail).toMatch(/2 bundles flagged/);
    const stored = (await (await h.admin("/tenants/skew-b/appliances/b-01/evidence")).json()) as {
      bundles: unknown[];
    };
    expect(stored.bundles).toHaveLength(3);
  });

  it("flags a clock stepped back (in one upload and across uploads), once per hour", async () => {
    const a = await appliance("skew-c", "c-01");
    await a.push(nowMs - 10 * MINUTE, nowMs - 9 * MINUTE);
    // Across uploads: the new bundle is earlier than the stored head's.
    await a.push(nowMs - 40 * MINUTE);
    let alerts = await a.alerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.detail).toMatch(/appliance c-01 seq 3: .* 1860 s earlier .*stepped back/);
    // The same episode within the hour: stored, counted, no second alert.
    await a.push(nowMs - 30 * MINUTE, nowMs - 50 * MINUTE);
    expect(await a.alerts()).toHaveLength(1);
    // An hour later it steps back again: a new alert.
    nowMs += 61 * MINUTE;
    await a.push(nowMs - 2 * MINUTE, nowMs - 90 * MINUTE);
    alerts = await a.alerts();
    expect(alerts).toHaveLength(2);
    expect(alerts[1]?.detail).toMatch(/seq 7: .* 5280 s earlier/);
  });
});
