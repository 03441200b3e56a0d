import { randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addOperator } from "../testing/harness.ts";
import {
  type PlannerWorld,
  type SimulatedSite,
  startPlannerWorld,
} from "../testing/planner-world.ts";
import { createWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER, webhookSignature } from "./webhook.ts";

/**
 * L3: the operator queue (approve with a runbook → signed order, reject, resolve with a note)
 * behind operator sign-in and CSRF, and the signed escalation webhook, delivered to a real
 * HTTP receiver on loopback that verifies the HMAC and the timestamp before accepting.
 */
const SECRET = `whsec-${randomUUID()}`;
const TOLERANCE_S = 300;
const password = "correct horse battery staple";

interface Received {
  verified: boolean;
  body: Record<string, unknown>;
}

/** A receiver as an operator would write one: constant-time MAC check, replay window. */
function startReceiver(): Promise<{
  url: string;
  received: Received[];
  status: { code: number };
  close(): Promise<void>;
  server: Server;
}> {
  const received: Received[] = [];
  const status = { code: 204 };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const timestamp = String(req.headers[TIMESTAMP_HEADER] ?? "");
    const given = Buffer.from(String(req.headers[SIGNATURE_HEADER] ?? ""));
    const expected = Buffer.from(webhookSignature(SECRET, timestamp, body));
    const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= TOLERANCE_S;
    const verified = fresh && given.length === expected.length && timingSafeEqual(given, expected);
    received.push({ verified, body: JSON.parse(body) });
    res.writeHead(verified ? status.code : 401).end();
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/hooks/escalations`,
        received,
        status,
        server,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    }),
  );
}

let world: PlannerWorld;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let site: SimulatedSite;
let session: { cookie: string; csrf: string };

beforeAll(async () => {
  receiver = await startReceiver();
  world = await startPlannerWorld({
    llm: false, // every incident goes to L3
    planner: {
      webhook: createWebhook(
        { url: receiver.url, secret: SECRET, timeoutMs: 2000, attempts: 2 },
        { log() {} },
      ),
    },
  });
  site = await world.site("clinic-e", "clinic-e-01");
  await addOperator(world.h.store, "olivia", password);
  const res = await world.h.app.request("/v1/operator/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "olivia", password }),
  });
  session = {
    cookie: (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
    csrf: ((await res.json()) as { csrf_token: string }).csrf_token,
  };
});
afterAll(async () => {
  await world.cleanup();
  await receiver.close();
});

const operator = (path: string, body?: unknown, csrf = true) =>
  world.h.app.request(`/v1/operator${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      cookie: session.cookie,
      "content-type": "application/json",
      ...(csrf ? { "x-csrf-token": session.csrf } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const incidentPath = (id: string) => `/tenants/clinic-e/appliances/clinic-e-01/incidents/${id}`;

describe("L3 escalation", () => {
  it("notifies the webhook with a verifiable HMAC signature and lists the incident", async () => {
    const incident = await site.incident();
    const hook = receiver.received.find((r) => r.body.incident_id === incident.incident_id);
    expect(hook).toMatchObject({
      verified: true,
      body: {
        type: "incident.escalated",
        tenant_id: "clinic-e",
        check_id: "services",
        reason: "no L2 planner (LLM) is configured",
      },
    });
    expect(JSON.stringify(hook?.body)).not.toContain("observed");
    const queue = (await (await operator("/tenants/clinic-e/escalations")).json()) as {
      incident_id: string;
    }[];
    expect(queue.map((q) => q.incident_id)).toContain(incident.incident_id);
    const audit = JSON.stringify(await (await world.h.admin("/audit")).json());
    expect(audit).toContain("webhook.delivered");
  });

  it("a receiver refuses a tampered body, a wrong secret and a stale timestamp", async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(receiver.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
    const now = String(Math.floor(Date.now() / 1000));
    const body = JSON.stringify({ type: "incident.escalated", incident_id: "x" });
    const ok = await post(
      { [TIMESTAMP_HEADER]: now, [SIGNATURE_HEADER]: webhookSignature(SECRET, now, body) },
      body,
    );
    expect(ok.status).toBe(204);
    const tampered = await post(
      { [TIMESTAMP_HEADER]: now, [SIGNATURE_HEADER]: webhookSignature(SECRET, now, body) },
      body.replace("x", "y"),
    );
    expect(tampered.status).toBe(401);
    const wrong = await post(
      { [TIMESTAMP_HEADER]: now, [SIGNATURE_HEADER]: webhookSignature("other", now, body) },
      body,
    );
    expect(wrong.status).toBe(401);
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    const stale = await post(
      { [TIMESTAMP_HEADER]: old, [SIGNATURE_HEADER]: webhookSignature(SECRET, old, body) },
      body,
    );
    expect(stale.status).toBe(401);
  });

  it("retries a failing receiver a bounded number of times and records the failure", async () => {
    receiver.status.code = 503;
    try {
      const before = receiver.received.length;
      const incident = await site.incident({
        findings: [{ code: "unit_inactive", subject: "sshd.service" }],
      });
      expect(receiver.received.length - before).toBe(2);
      const audit = (await (await world.h.admin("/audit")).json()) as {
        action: string;
        target: string;
      }[];
      expect(
        audit.some((e) => e.action === "webhook.failed" && e.target.endsWith(incident.incident_id)),
      ).toBe(true);
    } finally {
      receiver.status.code = 204;
    }
  });

  it("approves with a runbook: a signed L3 order with params from the incident", async () => {
    const incident = await site.incident();
    expect(
      (
        await operator(
          `${incidentPath(incident.incident_id)}/approve`,
          { runbook_id: "RB-SERVICE-001-crash" },
          false,
        )
      ).status,
    ).toBe(403);
    const res = await operator(`${incidentPath(incident.incident_id)}/approve`, {
      runbook_id: "RB-SERVICE-001-crash",
    });
    expect(res.status).toBe(201);
    const { orders } = await site.poll();
    expect(orders.at(-1)).toMatchObject({
      runbook_id: "RB-SERVICE-001-crash",
      tier: "L3",
      params: { unit: "chronyd.service" },
    });
    const again = await operator(`${incidentPath(incident.incident_id)}/approve`, {
      runbook_id: "RB-SERVICE-001-crash",
    });
    expect(again.status).toBe(409);
    const decision = (await site.decisions()).records.at(-1);
    expect(decision).toMatchObject({
      tier: "L3",
      decided_by: "operator:olivia",
      outcome: "order_issued",
    });
  });

  it("refuses to approve params that fail the runbook's schema, or a runbook not in the catalog", async () => {
    const incident = await site.incident();
    const bad = await operator(`${incidentPath(incident.incident_id)}/approve`, {
      runbook_id: "RB-SERVICE-001-crash",
      params: { unit: "cups.service" },
    });
    expect(bad.status).toBe(400);
    const unknown = await operator(`${incidentPath(incident.incident_id)}/approve`, {
      runbook_id: "RB-NOPE-001-x",
    });
    expect(unknown.status).toBe(400);
  });

  it("approves only a candidate, unless overridden with a reason the decision keeps", async () => {
    const incident = await site.incident();
    const path = `${incidentPath(incident.incident_id)}/approve`;
    const refused = await operator(path, { runbook_id: "RB-LOGGING-001-journald" });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain(
      "RB-LOGGING-001-journald is not a candidate for this incident (candidates: RB-SERVICE-001-crash)",
    );
    expect(
      (await operator(path, { runbook_id: "RB-LOGGING-001-journald", override_reason: " " }))
        .status,
    ).toBe(400);
    const reason = "the journal filled the disk; rotating it is the real fix here";
    const res = await operator(path, {
      runbook_id: "RB-LOGGING-001-journald",
      override_reason: reason,
    });
    expect(res.status).toBe(201);
    const decision = (await site.decisions()).records.at(-1);
    expect(decision).toMatchObject({
      tier: "L3",
      outcome: "order_issued",
      runbook_id: "RB-LOGGING-001-journald",
      reason: "approved by an operator, overriding the candidates (reason in note)",
      note: reason,
    });
    expect(decision?.inputs.candidates).toEqual(["RB-SERVICE-001-crash"]);
  });

  it("rejects, and resolves by hand with a note, each recorded under the operator's name", async () => {
    const one = await site.incident();
    const two = await site.incident();
    expect(
      (await operator(`${incidentPath(one.incident_id)}/reject`, { note: "expected: maintenance" }))
        .status,
    ).toBe(200);
    expect(
      (
        await operator(`${incidentPath(two.incident_id)}/resolve`, {
          note: "restarted by hand on site",
        })
      ).status,
    ).toBe(200);
    expect(
      (await operator(`${incidentPath(two.incident_id)}/resolve`, { note: "twice" })).status,
    ).toBe(409);
    const records = (await site.decisions()).records;
    expect(
      records.find((r) => r.incident_id === one.incident_id && r.outcome === "rejected"),
    ).toMatchObject({ decided_by: "operator:olivia", note: "expected: maintenance" });
    expect(
      records.find((r) => r.incident_id === two.incident_id && r.outcome === "resolved_manually"),
    ).toMatchObject({ note: "restarted by hand on site" });
    const state = (await (await operator(incidentPath(two.incident_id))).json()) as {
      status: string;
    };
    expect(state.status).toBe("resolved_manually");
  });

  it("requires operator authentication", async () => {
    const res = await world.h.app.request("/v1/operator/tenants/clinic-e/escalations");
    expect(res.status).toBe(401);
    const admin = await world.h.app.request("/v1/admin/tenants/clinic-e/escalations", {
      headers: { authorization: "Bearer nottherighttokenatallxx" },
    });
    expect(admin.status).toBe(401);
  });
});
