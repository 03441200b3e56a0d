import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EnrollmentResponse,
  type EvidenceBundle,
  EvidenceReceipt,
  MAX_APPLIANCE_BODY_BYTES,
  Problem,
  parseMessage,
  randomNonce,
  verificationKey,
  verifyDocument,
  verifyPollResponse,
} from "#protocol";
import { verifyAuditChain } from "./audit.ts";
import { openPostgresStore, openSqliteStore, type Store } from "./store/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "./store/postgres/test-database.ts";
import {
  createHarness,
  type Harness,
  pollBody,
  registerSite,
  simulatedAppliance,
} from "./testing/harness.ts";
import { asAppliance, chain, enroll, upload } from "./testing/in-process.ts";

type Open = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

const backends: [string, Open][] = [
  [
    "SQLite",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "cp-app-"));
      return {
        store: openSqliteStore(join(dir, "cp.sqlite")),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  ],
];
if (await postgresReachable()) {
  backends.push([
    "PostgreSQL",
    async () => {
      const { schema, drop } = await createTestSchema();
      return {
        store: openPostgresStore({ connectionString: TEST_DATABASE_URL, schema }),
        cleanup: drop,
      };
    },
  ]);
}

describe.each(backends)("control-plane app on %s", (_name, open) => {
  let cleanup: () => Promise<void>;
  let h: Harness;

  beforeAll(async () => {
    const opened = await open();
    cleanup = opened.cleanup;
    h = await createHarness(opened.store);
  });
  afterAll(async () => {
    await h.store.close();
    await cleanup();
  });

  function expectProblem(
    res: { status: number; json: unknown; contentType: string },
    status: number,
    code: string,
  ) {
    expect(res.status).toBe(status);
    expect(res.contentType).toMatch(/^application\/problem\+json/);
    const problem = parseMessage(Problem, res.json, "problem");
    expect(problem.code).toBe(code);
    return problem;
  }

  async function enrolledAppliance(tenantId: string, applianceId: string) {
    const probe = await simulatedAppliance();
    const { token } = await registerSite(h, tenantId, applianceId, probe.mac);
    const appliance = await simulatedAppliance(token, probe.mac);
    const response = await enroll(h, appliance);
    if (response.status !== "enrolled") throw new Error("not enrolled");
    return { appliance, response, call: asAppliance(h, response.client_certificate_pem) };
  }

  describe("enrollment", () => {
    it("enrolls with a one-time token and signs the response with the order key", async () => {
      const { response } = await enrolledAppliance("clinic-a", "a-01");
      parseMessage(EnrollmentResponse, response, "enrollment response");
      expect(verifyDocument(response, verificationKey(h.signer.publicKey))).toBe(true);
      expect(response).toMatchObject({
        tenant_id: "clinic-a",
        appliance_id: "a-01",
        settings: { poll_interval_s: 60 },
      });
    });

    it("makes the tenant CA when a new tenant is registered without one", async () => {
      const probe = await simulatedAppliance();
      const res = await h.admin("/sites", {
        tenant_id: "clinic-g",
        appliance_id: "g-01",
        mac_addresses: [probe.mac],
      });
      expect(res.status).toBe(201);
      const site = (await res.json()) as {
        enrollment_token: string;
        tenant_ca_certificate_pem: string;
      };
      const response = await enroll(h, await simulatedAppliance(site.enrollment_token, probe.mac));
      if (response.status !== "enrolled") throw new Error("not enrolled");
      expect(response.ca_certificate_pem).toBe(site.tenant_ca_certificate_pem);
      const cert = new X509Certificate(response.client_certificate_pem);
      expect(cert.verify(new X509Certificate(site.tenant_ca_certificate_pem).publicKey)).toBe(true);
    });

    it("refuses a replayed token, a wrong token and a MAC that does not match", async () => {
      const probe = await simulatedAppliance();
      const { token, ca } = await registerSite(h, "clinic-r", "r-01", probe.mac);
      const first = await simulatedAppliance(token, probe.mac);
      await enroll(h, first);
      const call = asAppliance(h, undefined);
      const replay = await simulatedAppliance(token, probe.mac);
      expectProblem(await call("/v1/appliance/enroll", replay.request), 403, "token_invalid");
      const wrong = await simulatedAppliance("x".repeat(43), probe.mac);
      expectProblem(await call("/v1/appliance/enroll", wrong.request), 403, "token_invalid");

      const probe2 = await simulatedAppliance();
      const reg2 = await registerSite(h, "clinic-r", "r-02", probe2.mac, { ca });
      const otherMac = await simulatedAppliance(reg2.token);
      expectProblem(await call("/v1/appliance/enroll", otherMac.request), 403, "token_invalid");
    });

    it("refuses a fingerprint that is not the key id of the evidence key", async () => {
      const a = await simulatedAppliance("y".repeat(43));
      const res = await asAppliance(h, undefined)("/v1/appliance/enroll", {
        ...a.request,
        evidence_key_fingerprint: "0".repeat(64),
      });
      expectProblem(res, 400, "invalid_request");
    });

    it("keeps an appliance without token pending until an operator approves its fingerprint", async () => {
      const a = await simulatedAppliance();
      await registerSite(h, "clinic-p", "p-01", a.mac, { approvalOnly: true });
      const pending = await enroll(h, a);
      expect(pending).toMatchObject({
        status: "pending",
        evidence_key_fingerprint: a.request.evidence_key_fingerprint,
      });
      expect(verifyDocument(pending, verificationKey(h.signer.publicKey))).toBe(true);

      const wrong = await h.admin("/tenants/clinic-p/appliances/p-01/approve", {
        evidence_key_fingerprint: "1".repeat(64),
      });
      expect(wrong.status).toBe(409);
      const ok = await h.admin("/tenants/clinic-p/appliances/p-01/approve", {
        evidence_key_fingerprint: a.request.evidence_key_fingerprint,
      });
      expect(ok.status).toBe(200);
      // Another key claiming the same MAC after approval stays pending, the approved one enrolls.
      const impostor = await simulatedAppliance(undefined, a.mac);
      expect(await enroll(h, impostor)).toMatchObject({ status: "pending" });
      expect((await enroll(h, a)).status).toBe("enrolled");
    });

    it("answers an unknown MAC without token `pending`, as a registered one (a MAC alone proves nothing)", async () => {
      const a = await simulatedAppliance();
      expect(await enroll(h, a)).toMatchObject({ status: "pending" });
    });
  });

  describe("polls and orders", () => {
    it("answers an empty poll signed, then delivers orders in sequence with this poll's nonce", async () => {
      const { call, response } = await enrolledAppliance("clinic-o", "o-01");
      const key = verificationKey(h.signer.publicKey);
      const context = (nonce: string, lastOrderSeq: number) => ({
        key,
        tenantId: "clinic-o",
        applianceId: "o-01",
        nonce,
        lastOrderSeq,
        seenOrderIds: new Set<string>(),
        runbooks: new Set(["RB-SVC-001-restart"]),
        now: new Date(),
      });
      const empty = pollBody("clinic-o", "o-01");
      const r0 = await call("/v1/appliance/poll", empty);
      expect(r0.status).toBe(200);
      expect(verifyPollResponse(r0.json, context(empty.nonce, 0))).toMatchObject({
        ok: true,
        lastOrderSeq: 0,
      });
      expect(response.order_signing_public_key).toBeDefined();

      for (const unit of ["a", "b", "c"]) {
        const created = await h.admin("/tenants/clinic-o/appliances/o-01/orders", {
          runbook_id: "RB-SVC-001-restart",
          params: { unit },
          ttl_s: 600,
        });
        expect(created.status).toBe(201);
      }
      const p1 = pollBody("clinic-o", "o-01", 1);
      const r1 = await call("/v1/appliance/poll", p1);
      const verdict = verifyPollResponse(r1.json, context(p1.nonce, 1));
      expect(verdict.ok).toBe(true);
      if (!verdict.ok) return;
      expect(verdict.response.order_seq).toBe(3);
      expect(verdict.orders.map((o) => (o.ok ? o.order.seq : -1))).toEqual([2, 3]);
      expect(verdict.orders.every((o) => o.ok && o.order.nonce === p1.nonce)).toBe(true);

      const first = verdict.orders[0];
      if (!first?.ok) throw new Error("order 2 refused");
      const ack = await call("/v1/appliance/order-results", {
        v: 1,
        type: "order_result",
        tenant_id: "clinic-o",
        appliance_id: "o-01",
        order_id: first.order.order_id,
        order_seq: first.order.seq,
        runbook_id: first.order.runbook_id,
        outcome: "succeeded",
        evidence_seq: 1,
        finished_at: new Date().toISOString(),
      });
      expect(ack).toMatchObject({ status: 200, json: { type: "ack", ref: first.order.order_id } });
      const stored = await h.admin(`/tenants/clinic-o/orders/${first.order.order_id}`);
      expect(await stored.json()).toMatchObject({ status: "succeeded" });
    });
  });

  describe("evidence ingest", () => {
    it("verifies, stores and receipts; accepts an identical resend; asks for a gap; refuses forks and bad signatures", async () => {
      const { call, appliance } = await enrolledAppliance("clinic-e", "e-01");
      const key = verificationKey(h.signer.publicKey);
      const { bundles, head } = chain(appliance.evidenceSigner, "clinic-e", "e-01", 5);

      const r1 = await call(
        "/v1/appliance/evidence",
        upload("clinic-e", "e-01", bundles.slice(0, 3)),
      );
      expect(r1.status).toBe(200);
      const receipt = parseMessage(EvidenceReceipt, r1.json, "receipt");
      expect(verifyDocument(receipt, key)).toBe(true);
      expect(receipt).toMatchObject({ first_seq: 1, last_seq: 3 });

      // Idempotent: the same bundles again, and an overlapping batch.
      const again = await call(
        "/v1/appliance/evidence",
        upload("clinic-e", "e-01", bundles.slice(0, 3)),
      );
      expect(again.json).toMatchObject({ first_seq: 1, last_seq: 3, last_hash: receipt.last_hash });
      const overlap = await call(
        "/v1/appliance/evidence",
        upload("clinic-e", "e-01", bundles.slice(1)),
      );
      expect(overlap.json).toMatchObject({ first_seq: 2, last_seq: 5, last_hash: head.hash });

      // A gap: seq 7 without 6.
      const later = chain(appliance.evidenceSigner, "clinic-e", "e-01", 2, head);
      const gap = expectProblem(
        await call("/v1/appliance/evidence", upload("clinic-e", "e-01", later.bundles.slice(1))),
        409,
        "evidence_gap",
      );
      expect(gap.expected_seq).toBe(6);

      // A fork: a different, validly signed seq 3.
      const fork = chain(appliance.evidenceSigner, "clinic-e", "e-01", 3).bundles;
      expectProblem(
        await call("/v1/appliance/evidence", upload("clinic-e", "e-01", fork.slice(2))),
        409,
        "evidence_fork",
      );

      // A bad signature: seq 6 signed by another key.
      const other = await simulatedAppliance();
      const forged = chain(other.evidenceSigner, "clinic-e", "e-01", 1, head).bundles;
      expectProblem(
        await call("/v1/appliance/evidence", upload("clinic-e", "e-01", forged)),
        422,
        "evidence_bad_signature",
      );

      // A malformed bundle, new or resent, is refused as an invalid segment (no alert).
      const broken = { ...(later.bundles[0] as object), event: { kind: "nope" } };
      expectProblem(
        await call("/v1/appliance/evidence", upload("clinic-e", "e-01", [broken])),
        422,
        "evidence_invalid",
      );
      expectProblem(
        await call("/v1/appliance/evidence", upload("clinic-e", "e-01", [{ seq: 1 }])),
        422,
        "evidence_invalid",
      );

      const alerts = (await (await h.admin("/tenants/clinic-e/alerts")).json()) as {
        code: string;
      }[];
      expect(alerts.map((a) => a.code)).toEqual(["evidence_fork", "evidence_bad_signature"]);
      const stored = (await (
        await h.admin("/tenants/clinic-e/appliances/e-01/evidence")
      ).json()) as {
        head: unknown;
        bundles: unknown[];
      };
      expect(stored.head).toEqual(head);
      expect(stored.bundles).toEqual(bundles);
    });

    it("refuses a resent bundle whose signature is broken, though its content is the stored one's", async () => {
      const { call, appliance } = await enrolledAppliance("clinic-rs", "rs-01");
      const { bundles, head } = chain(appliance.evidenceSigner, "clinic-rs", "rs-01", 3);
      expect(
        (await call("/v1/appliance/evidence", upload("clinic-rs", "rs-01", bundles))).status,
      ).toBe(200);
      // Same content, so the same hash as the stored bundle 2; only the signature is broken.
      const stored2 = bundles[1] as EvidenceBundle;
      const value = stored2.sig.value;
      const broken = {
        ...stored2,
        sig: { ...stored2.sig, value: `${value[0] === "A" ? "B" : "A"}${value.slice(1)}` },
      };
      expectProblem(
        await call("/v1/appliance/evidence", upload("clinic-rs", "rs-01", [bundles[0], broken])),
        422,
        "evidence_bad_signature",
      );
      const alerts = (await (await h.admin("/tenants/clinic-rs/alerts")).json()) as {
        code: string;
        detail: string;
      }[];
      expect(alerts).toMatchObject([
        { code: "evidence_bad_signature", detail: "seq 2: signature does not verify" },
      ]);
      const kept = (await (
        await h.admin("/tenants/clinic-rs/appliances/rs-01/evidence")
      ).json()) as { head: unknown; bundles: unknown[] };
      expect(kept).toEqual({ head, bundles });
    });

    it("stores incidents once and acknowledges a resend", async () => {
      const { call } = await enrolledAppliance("clinic-i", "i-01");
      const incident = {
        v: 1,
        type: "incident",
        incident_id: crypto.randomUUID(),
        tenant_id: "clinic-i",
        appliance_id: "i-01",
        check_id: "backups",
        severity: "high",
        detected_at: new Date().toISOString(),
        findings: [{ code: "backup_stale" }],
        evidence: { seq: 1, hash: "a".repeat(64) },
        local_l1: { attempted: false, why_not: "no rule" },
      };
      expect((await call("/v1/appliance/incidents", incident)).json).toMatchObject({
        type: "ack",
        ref: incident.incident_id,
      });
      expect((await call("/v1/appliance/incidents", incident)).status).toBe(200);
      const listed = (await (await h.admin("/tenants/clinic-i/incidents")).json()) as unknown[];
      expect(listed).toHaveLength(1);
    });
  });

  describe("tenancy", () => {
    it("refuses every appliance route naming another tenant or appliance, even with a valid certificate", async () => {
      const a = await enrolledAppliance("tenant-a", "ta-01");
      const b = await enrolledAppliance("tenant-b", "tb-01");
      expectProblem(
        await a.call("/v1/appliance/poll", pollBody("tenant-b", "tb-01")),
        403,
        "forbidden",
      );
      const bChain = chain(b.appliance.evidenceSigner, "tenant-b", "tb-01", 1).bundles;
      expectProblem(
        await a.call("/v1/appliance/evidence", upload("tenant-b", "tb-01", bChain)),
        403,
        "forbidden",
      );
      // Own envelope, but bundles of the other tenant inside.
      expectProblem(
        await a.call("/v1/appliance/evidence", upload("tenant-a", "ta-01", bChain)),
        403,
        "forbidden",
      );
      // An order of tenant B cannot be reported on by A.
      const created = await h.admin("/tenants/tenant-b/appliances/tb-01/orders", {
        runbook_id: "RB-SVC-001-restart",
      });
      const order = (await created.json()) as { order_id: string; seq: number };
      const result = {
        v: 1,
        type: "order_result",
        tenant_id: "tenant-a",
        appliance_id: "ta-01",
        order_id: order.order_id,
        order_seq: order.seq,
        runbook_id: "RB-SVC-001-restart",
        outcome: "succeeded",
        evidence_seq: 1,
        finished_at: new Date().toISOString(),
      };
      expectProblem(await a.call("/v1/appliance/order-results", result), 404, "not_found");
      // A's poll never shows B's order.
      const poll = await a.call("/v1/appliance/poll", pollBody("tenant-a", "ta-01"));
      expect(poll.json).toMatchObject({ order_seq: 0, orders: [] });
      expect(
        await (await h.admin(`/tenants/tenant-b/orders/${order.order_id}`)).json(),
      ).toMatchObject({ status: "pending" });
    });
  });

  describe("refusals are 4xx problems, never 5xx", () => {
    it("answers arbitrary JSON on every appliance and admin route with a 4xx problem", async () => {
      const { call } = await enrolledAppliance("clinic-f", "f-01");
      const anonymous = asAppliance(h, undefined);
      const routes = ["poll", "evidence", "order-results", "incidents"].map(
        (r) => `/v1/appliance/${r}`,
      );
      await fc.assert(
        fc.asyncProperty(
          fc.jsonValue({ maxDepth: 4 }),
          fc.constantFrom(...routes),
          async (value, route) => {
            const res = await call(route, value);
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(res.status).toBeLessThan(500);
            parseMessage(Problem, res.json, "problem");
            const enrollRes = await anonymous("/v1/appliance/enroll", value);
            expect(enrollRes.status).toBeGreaterThanOrEqual(400);
            expect(enrollRes.status).toBeLessThan(500);
          },
        ),
        { numRuns: 40 },
      );
      for (const body of [
        {},
        { tenant_id: "x" },
        {
          tenant_id: "new-t",
          appliance_id: "n-01",
          mac_addresses: ["02:00:00:00:00:99"],
          ca_cert_pem: "junk",
          ca_key_pem: "junk",
        },
      ]) {
        const res = await h.admin("/sites", body);
        expect(res.status).toBe(400);
      }
      expect(
        (
          await h.admin("/tenants/nope/appliances/none/orders", {
            runbook_id: "RB-SVC-001-restart",
          })
        ).status,
      ).toBe(404);
      expect((await h.admin("/tenants/Bad_Id/appliances/none")).status).toBe(400);
    });

    it("handles malformed, wrong-type, non-JSON and oversized bodies", async () => {
      const { call } = await enrolledAppliance("clinic-m", "m-01");
      expectProblem(await call("/v1/appliance/poll", { v: 1 }), 400, "invalid_request");
      expectProblem(
        await call("/v1/appliance/poll", null, { raw: "{not json" }),
        400,
        "invalid_request",
      );
      expectProblem(
        await call("/v1/appliance/poll", pollBody("clinic-m", "m-01"), {
          contentType: "text/plain",
        }),
        415,
        "unsupported_media_type",
      );
      expectProblem(
        await call("/v1/appliance/poll", { ...pollBody("clinic-m", "m-01"), nonce: "short" }),
        400,
        "invalid_request",
      );
      const big = "x".repeat(MAX_APPLIANCE_BODY_BYTES + 1);
      expectProblem(
        await call("/v1/appliance/evidence", null, { raw: big }),
        413,
        "payload_too_large",
      );
      expectProblem(
        await asAppliance(h, undefined)("/v1/appliance/enroll", null, { raw: "[]" }),
        400,
        "invalid_request",
      );
      expectProblem(await call("/v1/appliance/nope", {}), 404, "not_found");
    });

    it("refuses appliance routes without a client certificate and admin routes without a token", async () => {
      expectProblem(
        await asAppliance(h, undefined)("/v1/appliance/poll", pollBody("x", "y")),
        401,
        "unauthenticated",
      );
      const res = await h.app.request("/v1/admin/sites", { method: "POST", body: "{}" });
      expect(res.status).toBe(401);
      const bad = await h.app.request("/v1/admin/audit", {
        headers: { authorization: `Bearer ${"z".repeat(43)}` },
      });
      expect(bad.status).toBe(401);
    });

    it("rate-limits one appliance without touching the others", async () => {
      const dir2 = mkdtempSync(join(tmpdir(), "cp-rl-"));
      const h2 = await createHarness(openSqliteStore(join(dir2, "cp.sqlite")), {
        applianceRateLimit: { perMinute: 1, burst: 2 },
      });
      const probe = await simulatedAppliance();
      const { token } = await registerSite(h2, "clinic-l", "l-01", probe.mac);
      const res = await enroll(h2, await simulatedAppliance(token, probe.mac));
      if (res.status !== "enrolled") throw new Error("not enrolled");
      const call = asAppliance(h2, res.client_certificate_pem);
      expect((await call("/v1/appliance/poll", pollBody("clinic-l", "l-01"))).status).toBe(200);
      expect((await call("/v1/appliance/poll", pollBody("clinic-l", "l-01"))).status).toBe(200);
      expectProblem(
        await call("/v1/appliance/poll", pollBody("clinic-l", "l-01")),
        429,
        "rate_limited",
      );
      await h2.store.close();
      rmSync(dir2, { recursive: true, force: true });
    });
  });

  describe("enrollment rate limit", () => {
    it("limits enrollment attempts per client address", async () => {
      const dir2 = mkdtempSync(join(tmpdir(), "cp-erl-"));
      const h2 = await createHarness(openSqliteStore(join(dir2, "cp.sqlite")), {
        enrollmentRateLimit: { perMinute: 1, burst: 1 },
      });
      const a = await simulatedAppliance();
      const call = asAppliance(h2, undefined);
      expect((await call("/v1/appliance/enroll", a.request)).status).toBe(200);
      const limited = await call("/v1/appliance/enroll", a.request);
      expectProblem(limited, 429, "rate_limited");
      await h2.store.close();
      rmSync(dir2, { recursive: true, force: true });
    });
  });

  describe("sign-in rate limit", () => {
    it("limits sign-in attempts per client address, whichever names they try", async () => {
      const dir2 = mkdtempSync(join(tmpdir(), "cp-srl-"));
      const h2 = await createHarness(openSqliteStore(join(dir2, "cp.sqlite")), {
        signInRateLimit: { perMinute: 1, burst: 2 },
      });
      const attempt = (username: string) =>
        h2.app.request("/v1/operator/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username, password: "not the password" }),
        });
      expect((await attempt("alice")).status).toBe(401);
      expect((await attempt("bob")).status).toBe(401);
      const limited = await attempt("carol");
      expect(limited.status).toBe(429);
      expect(((await limited.json()) as { code: string }).code).toBe("rate_limited");
      await h2.store.close();
      rmSync(dir2, { recursive: true, force: true });
    });
  });

  describe("operability", () => {
    it("serves healthz, readyz, metrics, openapi and request ids", async () => {
      expect((await h.app.request("/healthz")).status).toBe(200);
      expect(await (await h.app.request("/readyz")).json()).toEqual({
        status: "ready",
        store: h.store.dialect,
        // A checkout (no release.json): the package version marked as a development build.
        version: `${JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version}+dev`,
      });
      const metrics = await (await h.ops("/metrics")).text();
      expect(metrics).toContain("cp_http_requests_total");
      const openapi = (await (await h.ops("/openapi.json")).json()) as {
        paths: Record<string, unknown>;
      };
      expect(Object.keys(openapi.paths)).toContain("/v1/appliance/poll");
      expect(Object.keys(openapi.paths)).toContain(
        "/v1/admin/tenants/{tenant}/appliances/{appliance}/incidents/{incident}/approve",
      );
      const res = await h.app.request("/healthz", { headers: { "x-request-id": "abcdef123456" } });
      expect(res.headers.get("x-request-id")).toBe("abcdef123456");
      expect(randomNonce()).toHaveLength(43);
    });

    it("records admin actions in a hash chain that verifies", async () => {
      const entries = (await (await h.admin("/audit")).json()) as Parameters<
        typeof verifyAuditChain
      >[0];
      expect(entries.length).toBeGreaterThan(5);
      expect(verifyAuditChain(entries)).toBeNull();
      expect(await (await h.admin("/audit/verify")).json()).toMatchObject({
        ok: true,
        first_broken_seq: null,
      });
      const tampered = entries.map((e, i) => (i === 2 ? { ...e, target: "someone-else" } : e));
      expect(verifyAuditChain(tampered)).toBe(entries[2]?.seq);
    });
  });
});
