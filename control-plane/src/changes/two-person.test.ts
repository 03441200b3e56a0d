import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Role, Scope } from "../access/roles.ts";
import { Config, twoPersonSettings } from "../config.ts";
import { openPostgresStore, openSqliteStore, type Store } from "../store/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "../store/postgres/test-database.ts";
import {
  addOperator,
  createHarness,
  DASHBOARD_ORIGIN,
  dashboardPost,
  dashboardSignIn,
  type Harness,
  nextMac,
  registerSite,
} from "../testing/harness.ts";
import { DEFAULT_TWO_PERSON_RULE } from "./settings.ts";

/**
 * The two-person rule through the operator API with the production setting (on for all three
 * changes), on SQLite and PostgreSQL: one operator's change waits as a request and changes
 * nothing; the requester cannot approve it; another operator's approval applies it, exactly
 * once however many approve at the same moment; an expired or rejected request never applies.
 */
const pgReady = await postgresReachable();
const TENANT = "clinic-2p";
const OTHER = "clinic-other";
const PASSWORD = "correct horse battery staple";
/** Shorter than the 24 h default so that a signed-in session outlives a request. */
const EXPIRY_MS = 10 * 60_000;

interface World {
  readonly h: Harness;
  /** Moves the control plane's clock. */
  advance(ms: number): void;
  as(username: string): Operator;
  cleanup(): Promise<void>;
}

type Call = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: Record<string, unknown> & { detail?: string } }>;
interface Operator {
  readonly call: Call;
}

const OPERATORS: readonly [string, Role, Scope][] = [
  ["alice", "admin", { tenants: "*" }],
  ["bob", "admin", { tenants: "*" }],
  ["dave", "admin", { tenants: "*" }],
  ["carol", "operator", { tenants: [TENANT] }],
  ["olga", "operator", { tenants: [OTHER] }],
];

async function world(store: Store, drop: () => Promise<void>): Promise<World> {
  let offset = 0;
  const h = await createHarness(store, {
    twoPersonRule: { ...DEFAULT_TWO_PERSON_RULE, expiryMs: EXPIRY_MS },
    clock: () => new Date(Date.now() + offset),
  });
  await registerSite(h, TENANT, "a-01", nextMac());
  await registerSite(h, OTHER, "b-01", nextMac());
  const sessions = new Map<string, { cookie: string; csrf: string }>();
  for (const [username, role, scope] of OPERATORS) {
    await addOperator(store, username, PASSWORD, { role, scope });
    const res = await h.app.request("/v1/operator/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    sessions.set(username, {
      cookie: (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
      csrf: ((await res.json()) as { csrf_token: string }).csrf_token,
    });
  }
  return {
    h,
    advance: (ms) => {
      offset += ms;
    },
    as: (username) => ({
      call: async (method, path, body) => {
        const s = sessions.get(username) as { cookie: string; csrf: string };
        const res = await h.app.request(`/v1/operator${path}`, {
          method,
          headers: {
            cookie: s.cookie,
            "x-csrf-token": s.csrf,
            "content-type": "application/json",
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : {} };
      },
    }),
    cleanup: async () => {
      await store.close();
      await drop();
    },
  };
}

const requestOf = (r: { body: Record<string, unknown> }) =>
  (r.body.change_request as { request_id: string }).request_id;

function twoPersonSuite(kind: "sqlite" | "postgres", open: () => Promise<World>) {
  describe(`the two-person rule (${kind})`, () => {
    let w: World;
    beforeAll(async () => {
      w = await open();
    }, 60_000);
    afterAll(async () => {
      await w?.cleanup();
    });
    const alice = () => w.as("alice").call;
    const bob = () => w.as("bob").call;
    const auditOf = async (action: string) =>
      (await w.h.store.listAudit(0, 10_000)).filter((e) => e.action === action);

    it("lifting the kill switch: one operator is blocked; a second operator's approval lifts it", async () => {
      expect(
        (await alice()("POST", "/planner/kill-switch", { engaged: true, reason: "drill" })).status,
      ).toBe(200);
      const lift = await alice()("POST", "/planner/kill-switch", {
        engaged: false,
        reason: "over",
      });
      expect(lift.status).toBe(202);
      expect(lift.body).toMatchObject({
        status: "pending_approval",
        change_request: {
          action: "lift_kill_switch",
          requested_by: "operator:alice",
          status: "pending",
        },
      });
      const id = requestOf(lift);
      expect((await alice()("GET", "/planner/kill-switch")).body.engaged).toBe(true);
      // One waiting request per change.
      expect((await bob()("POST", "/planner/kill-switch", { engaged: false })).status).toBe(409);

      const own = await alice()("POST", `/change-requests/${id}/approve`, {});
      expect(own.status).toBe(403);
      expect(own.body.detail).toBe("you requested this change: another operator must approve it");
      expect((await alice()("GET", "/planner/kill-switch")).body.engaged).toBe(true);
      // Lifting needs the admin role, as the switch itself does.
      expect((await w.as("carol").call("POST", `/change-requests/${id}/approve`, {})).status).toBe(
        403,
      );
      expect((await alice()("GET", "/planner/kill-switch")).body.engaged).toBe(true);
      const pending = await bob()("GET", "/change-requests");
      expect(
        (pending.body as unknown as { request_id: string }[]).map((r) => r.request_id),
      ).toContain(id);

      const approved = await bob()("POST", `/change-requests/${id}/approve`, {});
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ status: "approved", decided_by: "operator:bob" });
      expect((await alice()("GET", "/planner/kill-switch")).body.engaged).toBe(false);
      expect((await auditOf("change.requested")).at(-1)?.actor).toBe("operator:alice");
      const released = (await auditOf("planner.kill_switch_released")).at(-1);
      expect(released?.actor).toBe("operator:bob");
      expect(JSON.parse(released?.detailJson ?? "{}")).toMatchObject({
        requested_by: "operator:alice",
        approved_by: "operator:bob",
      });
    });

    it("taking a site out of audit-only: blocked alone, applied by a second operator in scope", async () => {
      const policy = (auditOnly: boolean) => ({ audit_only: auditOnly });
      expect((await alice()("PUT", `/tenants/${TENANT}/planner-policy`, policy(true))).status).toBe(
        200,
      );
      const enforce = await alice()("PUT", `/tenants/${TENANT}/planner-policy`, policy(false));
      expect(enforce.status).toBe(202);
      const id = requestOf(enforce);
      expect((await alice()("GET", `/tenants/${TENANT}/planner-policy`)).body.audit_only).toBe(
        true,
      );
      expect((await alice()("POST", `/change-requests/${id}/approve`, {})).status).toBe(403);
      // An operator of another client does not see the request at all.
      expect((await w.as("olga").call("POST", `/change-requests/${id}/approve`, {})).status).toBe(
        404,
      );
      expect((await alice()("GET", `/tenants/${TENANT}/planner-policy`)).body.audit_only).toBe(
        true,
      );

      const approved = await w.as("carol").call("POST", `/change-requests/${id}/approve`, {});
      expect(approved.status).toBe(200);
      expect((await alice()("GET", `/tenants/${TENANT}/planner-policy`)).body.audit_only).toBe(
        false,
      );
    });

    const propose = async () => {
      const proposalId = randomUUID();
      expect(
        await w.h.store.planner.createProposal({
          proposalId,
          tenantId: TENANT,
          patternKey: `services/unit_failed-${proposalId.slice(0, 8)}`,
          checkId: "services",
          finding: `unit_failed_${proposalId.slice(0, 8)}`,
          runbookId: "RB-SERVICE-001-crash",
          successes: 5,
          status: "proposed",
          createdAt: new Date().toISOString(),
        }),
      ).toBe(true);
      const res = await alice()("POST", `/tenants/${TENANT}/rule-proposals/${proposalId}/approve`, {
        note: "five clean successes",
      });
      expect(res.status).toBe(202);
      return { proposalId, requestId: requestOf(res) };
    };
    const rules = async () =>
      (await alice()("GET", `/tenants/${TENANT}/l1-rules`)).body as {
        version: number;
        rules: { rule_id: string }[];
      };
    const proposalStatus = async (proposalId: string) =>
      (
        (await alice()("GET", `/tenants/${TENANT}/rule-proposals`)).body as unknown as {
          proposal_id: string;
          status: string;
        }[]
      ).find((p) => p.proposal_id === proposalId)?.status;

    it("promoting a proposal: blocked alone, promoted by a second operator", async () => {
      const before = await rules();
      const { proposalId, requestId } = await propose();
      expect(await proposalStatus(proposalId)).toBe("proposed");
      expect(await rules()).toEqual(before);
      expect((await alice()("POST", `/change-requests/${requestId}/approve`, {})).status).toBe(403);
      expect(await proposalStatus(proposalId)).toBe("proposed");
      expect(await rules()).toEqual(before);

      expect((await bob()("POST", `/change-requests/${requestId}/approve`, {})).status).toBe(200);
      expect(await proposalStatus(proposalId)).toBe("approved");
      const after = await rules();
      expect(after.version).toBe(before.version + 1);
      expect(after.rules).toHaveLength(before.rules.length + 1);
    });

    it("of concurrent approvals by different operators exactly one applies (a promotion)", async () => {
      const before = await rules();
      const approvedBefore = (await auditOf("flywheel.rule_approved")).length;
      const { requestId } = await propose();
      const answers = await Promise.all(
        ["bob", "dave", "carol", "bob", "dave"].map((who) =>
          w.as(who).call("POST", `/change-requests/${requestId}/approve`, {}),
        ),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409]);
      const after = await rules();
      expect(after.version).toBe(before.version + 1);
      expect(after.rules).toHaveLength(before.rules.length + 1);
      expect((await auditOf("flywheel.rule_approved")).length).toBe(approvedBefore + 1);
      expect(
        (await auditOf("change.approved")).filter((e) => e.detailJson.includes(requestId)),
      ).toHaveLength(1);
    });

    it("of concurrent approvals exactly one applies (lifting the kill switch, which applies alike twice)", async () => {
      expect(
        (await alice()("POST", "/planner/kill-switch", { engaged: true, reason: "again" })).status,
      ).toBe(200);
      const lift = await alice()("POST", "/planner/kill-switch", { engaged: false });
      expect(lift.status).toBe(202);
      const id = requestOf(lift);
      const answers = await Promise.all(
        ["bob", "dave", "bob", "dave"].map((who) =>
          w.as(who).call("POST", `/change-requests/${id}/approve`, {}),
        ),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409]);
      expect((await alice()("GET", "/planner/kill-switch")).body.engaged).toBe(false);
      const released = (await auditOf("planner.kill_switch_released")).filter((e) =>
        e.detailJson.includes(id),
      );
      expect(released).toHaveLength(1);
    });

    it("the dashboard lists the request; the requester has no approve button; another approves by form", async () => {
      const proposalId = randomUUID();
      await w.h.store.planner.createProposal({
        proposalId,
        tenantId: TENANT,
        patternKey: "backup/failed-dashboard",
        checkId: "backup",
        finding: "failed_dashboard",
        runbookId: "RB-BACKUP-001-failure",
        successes: 5,
        status: "proposed",
        createdAt: new Date().toISOString(),
      });
      const before = await rules();
      const a = await dashboardSignIn(w.h, "alice", PASSWORD);
      const b = await dashboardSignIn(w.h, "bob", PASSWORD);
      const asked = await dashboardPost(
        w.h,
        `/dashboard/proposals/${TENANT}/${proposalId}/approve`,
        { csrf: a.csrf, note: "by form" },
        { cookie: a.cookie },
      );
      expect(asked.status).toBe(303);
      expect(asked.headers.get("location")).toBe("/dashboard/changes");
      expect(await proposalStatus(proposalId)).toBe("proposed");
      const page = async (cookie: string) =>
        (
          await w.h.app.request(`${DASHBOARD_ORIGIN}/dashboard/changes`, { headers: { cookie } })
        ).text();
      const requestId = /data-change="([0-9a-f-]{36})"/.exec(await page(b.cookie))?.[1] as string;
      const mine = await page(a.cookie);
      expect(mine).toContain(`data-change="${requestId}"`);
      expect(mine).not.toContain(`/dashboard/changes/${requestId}/approve`);
      expect(mine).toContain("your request: another operator approves it");
      expect(await page(b.cookie)).toContain(`/dashboard/changes/${requestId}/approve`);
      const own = await dashboardPost(
        w.h,
        `/dashboard/changes/${requestId}/approve`,
        { csrf: a.csrf },
        { cookie: a.cookie },
      );
      expect(own.status).toBe(403);
      expect(await own.text()).toContain("another operator must approve it");
      const forged = await dashboardPost(
        w.h,
        `/dashboard/changes/${requestId}/approve`,
        {},
        { cookie: b.cookie },
      );
      expect(forged.status).toBe(403);
      expect(await proposalStatus(proposalId)).toBe("proposed");
      expect(await rules()).toEqual(before);
      const approved = await dashboardPost(
        w.h,
        `/dashboard/changes/${requestId}/approve`,
        { csrf: b.csrf },
        { cookie: b.cookie },
      );
      expect(approved.status).toBe(303);
      expect(await proposalStatus(proposalId)).toBe("approved");
      expect((await rules()).version).toBe(before.version + 1);
    });

    it("an expired or rejected request never applies", async () => {
      const before = await rules();
      const late = await propose();
      const rejected = await propose();
      expect(
        (await bob()("POST", `/change-requests/${rejected.requestId}/reject`, { note: "not yet" }))
          .status,
      ).toBe(200);
      expect(
        (await bob()("POST", `/change-requests/${rejected.requestId}/approve`, {})).status,
      ).toBe(409);
      w.advance(EXPIRY_MS + 1000);
      const expired = await bob()("POST", `/change-requests/${late.requestId}/approve`, {});
      expect(expired.status).toBe(409);
      expect(expired.body.detail).toMatch(/expired/);
      expect(await rules()).toEqual(before);
      expect(await proposalStatus(late.proposalId)).toBe("proposed");
      expect(await proposalStatus(rejected.proposalId)).toBe("proposed");
      const listed = (await bob()("GET", "/change-requests")).body as unknown as {
        request_id: string;
      }[];
      expect(listed.map((r) => r.request_id)).not.toContain(late.requestId);
    });
  });
}

twoPersonSuite("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-2p-"));
  return world(openSqliteStore(join(dir, "cp.sqlite")), async () =>
    rmSync(dir, { recursive: true, force: true }),
  );
});

describe.skipIf(!pgReady)("PostgreSQL", () => {
  twoPersonSuite("postgres", async () => {
    const { schema, drop } = await createTestSchema();
    return world(
      openPostgresStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 8 }),
      drop,
    );
  });
});

describe("the two_person_rule setting", () => {
  it("defaults to on for all three changes with a 24 h expiry, and names an unknown field", () => {
    const parsed = Config.parse({ data_dir: "/x" });
    expect(parsed.two_person_rule).toEqual({
      promote_rule: true,
      enforce_healing: true,
      lift_kill_switch: true,
      expiry_hours: 24,
    });
    expect(twoPersonSettings(parsed.two_person_rule)).toEqual(DEFAULT_TWO_PERSON_RULE);
    const bad = Config.safeParse({ data_dir: "/x", two_person_rule: { lift_killswitch: false } });
    expect(bad.success).toBe(false);
    expect(z.prettifyError(bad.error as z.ZodError)).toMatch(
      /lift_killswitch[\s\S]*two_person_rule/,
    );
    const notBool = Config.safeParse({ data_dir: "/x", two_person_rule: { promote_rule: "no" } });
    expect(z.prettifyError(notBool.error as z.ZodError)).toContain("two_person_rule.promote_rule");
  });
});
