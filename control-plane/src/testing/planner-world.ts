import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Catalog, loadCatalog } from "#catalog";
import {
  type ChainHead,
  type DecisionRecord,
  type EvidenceEvent,
  GENESIS_HEAD,
  type Incident,
  type Order,
  type PollResponse,
  sealBundle,
  verificationKey,
  verifyPollResponse,
} from "#protocol";
import type { AppDeps } from "../env.ts";
import { createLlmPlanner, type PlannerDeps } from "../planner/index.ts";
import { openSqliteStore, type Store } from "../store/index.ts";
import {
  createHarness,
  type Harness,
  pollBody,
  registerSite,
  simulatedAppliance,
} from "./harness.ts";
import { asAppliance, enroll, upload } from "./in-process.ts";
import { type ModelServer, startModelServer } from "./model-server.ts";
import { recordPassingQualification } from "./qualified-model.ts";

/**
 * The planner's test world: the real app in-process on SQLite with the real catalog, the real
 * openai SDK pointed at a local OpenAI-compatible server, and enrolled simulated appliances
 * that post incidents, poll signed orders, push signed evidence and report outcomes.
 */
export const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export interface PlannerWorld {
  readonly h: Harness;
  readonly model: ModelServer;
  readonly catalog: Catalog;
  /**
   * The control plane's SQLite file (tests that edit rows behind the store's back); undefined
   * when the world runs on a store it was given.
   */
  readonly sqlitePath: string | undefined;
  site(tenantId: string, applianceId: string): Promise<SimulatedSite>;
  cleanup(): Promise<void>;
}

export interface SimulatedSite {
  readonly tenantId: string;
  readonly applianceId: string;
  /** Posts an incident; the pipeline decides it in the background. */
  post(partial?: Partial<Incident>): Promise<Incident>;
  /** Posts an incident and waits until the pipeline has decided it. */
  incident(partial?: Partial<Incident>): Promise<Incident>;
  /** Polls; verifies the signed response with the pinned key; advances last_order_seq. */
  poll(): Promise<{ response: PollResponse; orders: Order[] }>;
  /** Pushes the order_result evidence, then reports the result (as the agent does). */
  report(
    order: Order,
    outcome: "succeeded" | "failed",
    options?: { withoutEvidence?: boolean },
  ): Promise<number>;
  decisions(): Promise<{ verified: boolean; records: DecisionRecord[] }>;
  /** Seals and uploads one evidence event as the appliance; resolves with its seq. */
  push(event: EvidenceEvent): Promise<number>;
}

/** The real model client as the tests configure it, against a local model server. */
export function localModelPlanner(baseUrl: string) {
  return createLlmPlanner({
    baseUrl,
    model: "local-test-model",
    apiKey: "sk-test-key",
    timeoutMs: 2000,
    maxRetries: 0,
    maxTokens: 200,
  });
}

export async function startPlannerWorld(
  options: {
    llm?: boolean;
    /**
     * Whether the configured model starts with a passing signed qualification report (default
     * true); false leaves the qualification gate closed.
     */
    qualified?: boolean;
    planner?: Partial<PlannerDeps>;
    app?: Partial<AppDeps>;
    /** The store to run on (migrated here, closed by cleanup); a fresh SQLite file by default. */
    store?: Store;
  } = {},
): Promise<PlannerWorld> {
  const dir = mkdtempSync(join(tmpdir(), "cp-planner-"));
  const catalog = await loadCatalog(REPO_ROOT);
  const model = await startModelServer();
  const llm = options.llm === false ? undefined : localModelPlanner(model.baseUrl);
  const sqlitePath = options.store ? undefined : join(dir, "cp.sqlite");
  const h = await createHarness(options.store ?? openSqliteStore(join(dir, "cp.sqlite")), {
    planner: { catalog, ...(llm ? { llm } : {}), ...options.planner },
    ...options.app,
  });
  const configured = options.planner?.llm ?? llm;
  if (configured && options.qualified !== false) {
    await recordPassingQualification(h.store.planner, h.signer, configured);
  }
  const key = verificationKey(h.signer.publicKey);
  const tenantCas = new Map<string, { certPem: string; keyPem: string }>();

  async function site(tenantId: string, applianceId: string): Promise<SimulatedSite> {
    const probe = await simulatedAppliance();
    const known = tenantCas.get(tenantId);
    const { token, ca } = await registerSite(
      h,
      tenantId,
      applianceId,
      probe.mac,
      known ? { ca: known } : {},
    );
    tenantCas.set(tenantId, ca);
    const appliance = await simulatedAppliance(token, probe.mac);
    const enrolled = await enroll(h, appliance);
    if (enrolled.status !== "enrolled") throw new Error("not enrolled");
    const call = asAppliance(h, enrolled.client_certificate_pem);
    let lastOrderSeq = 0;
    let head: ChainHead = GENESIS_HEAD;

    const push = async (event: EvidenceEvent) => {
      const sealed = sealBundle(
        {
          tenant_id: tenantId,
          appliance_id: applianceId,
          recorded_at: new Date().toISOString(),
          event,
        },
        head,
        appliance.evidenceSigner,
      );
      const res = await call(
        "/v1/appliance/evidence",
        upload(tenantId, applianceId, [sealed.bundle]),
      );
      if (res.status !== 200)
        throw new Error(`evidence: ${res.status} ${JSON.stringify(res.json)}`);
      head = sealed.head;
      return head.seq;
    };

    const post = async (partial: Partial<Incident> = {}) => {
      const body: Incident = {
        v: 1,
        type: "incident",
        incident_id: randomUUID(),
        tenant_id: tenantId,
        appliance_id: applianceId,
        check_id: "services",
        severity: "high",
        detected_at: new Date().toISOString(),
        findings: [
          {
            code: "unit_failed",
            subject: "chronyd.service",
            expected: "active",
            observed: "failed",
          },
        ],
        evidence: head,
        local_l1: { attempted: false, why_not: "no local rule" },
        ...partial,
      };
      const res = await call("/v1/appliance/incidents", body);
      if (res.status !== 200)
        throw new Error(`incident: ${res.status} ${JSON.stringify(res.json)}`);
      return body;
    };

    return {
      tenantId,
      applianceId,
      push,
      post,
      async incident(partial = {}) {
        const body = await post(partial);
        await h.app.planner.drain();
        return body;
      },
      async poll() {
        const request = pollBody(tenantId, applianceId, lastOrderSeq);
        const res = await call("/v1/appliance/poll", request);
        if (res.status !== 200) throw new Error(`poll: ${res.status}`);
        const verdict = verifyPollResponse(res.json, {
          key,
          tenantId,
          applianceId,
          nonce: request.nonce,
          lastOrderSeq,
          seenOrderIds: new Set<string>(),
          runbooks: new Set(catalog.runbooks.map((r) => r.id)),
          now: new Date(),
        });
        if (!verdict.ok) throw new Error(`poll refused: ${verdict.reason} ${verdict.detail}`);
        lastOrderSeq = verdict.lastOrderSeq;
        return {
          response: verdict.response,
          orders: verdict.orders.flatMap((v) => (v.ok ? [v.order] : [])),
        };
      },
      async report(order, outcome, opts = {}) {
        const evidenceSeq = opts.withoutEvidence
          ? head.seq + 1
          : await push({
              kind: "order_result",
              order_id: order.order_id,
              order_seq: order.seq,
              runbook_id: order.runbook_id,
              outcome,
              duration_ms: 12,
            });
        const res = await call("/v1/appliance/order-results", {
          v: 1,
          type: "order_result",
          tenant_id: tenantId,
          appliance_id: applianceId,
          order_id: order.order_id,
          order_seq: order.seq,
          runbook_id: order.runbook_id,
          outcome,
          evidence_seq: evidenceSeq,
          finished_at: new Date().toISOString(),
        });
        if (res.status !== 200) throw new Error(`order result: ${res.status}`);
        await h.app.planner.drain();
        return evidenceSeq;
      },
      async decisions() {
        const res = await h.admin(`/tenants/${tenantId}/appliances/${applianceId}/decisions`);
        return (await res.json()) as { verified: boolean; records: DecisionRecord[] };
      },
    };
  }

  return {
    h,
    model,
    catalog,
    sqlitePath,
    site,
    async cleanup() {
      await h.app.planner.drain();
      await model.close();
      await h.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
