import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalog } from "#catalog";
import { createSigner, GENESIS_HEAD, generateEd25519KeyPair, type Incident } from "#protocol";
import { openPostgresStore, openSqliteStore, type Store } from "../store/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "../store/postgres/test-database.ts";
import {
  createHarness,
  type Harness,
  registerSite,
  simulatedAppliance,
} from "../testing/harness.ts";
import { allowedIds, choose, type ModelServer, startModelServer } from "../testing/model-server.ts";
import { localModelPlanner, REPO_ROOT } from "../testing/planner-world.ts";
import { recordPassingQualification } from "../testing/qualified-model.ts";

/**
 * The counted guardrails under concurrent workers: several planner instances (on PostgreSQL
 * each with its own connection pool, as separate processes would have) plan incidents whose
 * model answers are all released at one instant, so every decision reaches its guardrails at
 * the same time. Deciding them inside the order's transaction, under the site's and the
 * runbook's lock rows, lets exactly the allowed number through:
 * - rate limit 3 at one site: 4 answers, 3 orders;
 * - blast radius 1: RB-LOGGING answered for 3 appliances in 2 tenants, 1 order;
 * - RB-CERT's 6 h cooldown: 3 answers for one appliance, 1 order.
 * The others are escalated with a signed decision naming the guardrail.
 */
const INSTANCES = 3;
const pgReady = await postgresReachable();

interface RaceWorld {
  readonly instances: Harness[];
  readonly store: Store;
  readonly model: ModelServer;
  cleanup(): Promise<void>;
}

async function raceWorld(kind: "sqlite" | "postgres"): Promise<RaceWorld> {
  const catalog = await loadCatalog(REPO_ROOT);
  // Every answer waits for the same instant: 1.5 s after the first request arrived.
  let releaseAt = 0;
  const model = await startModelServer((r) => {
    if (releaseAt === 0) releaseAt = Date.now() + 1500;
    const id = allowedIds(r).find((a) => a !== "escalate" && a !== "RB-PATCH-001-generation");
    return { delayMs: Math.max(0, releaseAt - Date.now()), reply: choose(id ?? "escalate") };
  });
  const llm = localModelPlanner(model.baseUrl);
  let stores: Store[];
  let drop = async () => {};
  let dir: string | undefined;
  if (kind === "postgres") {
    const created = await createTestSchema();
    drop = created.drop;
    stores = Array.from({ length: INSTANCES }, () =>
      openPostgresStore({
        connectionString: TEST_DATABASE_URL,
        schema: created.schema,
        maxConnections: 4,
      }),
    );
  } else {
    // The embedded store: one SQLite connection, its single writer shared by the planners.
    dir = mkdtempSync(join(tmpdir(), "cp-race-"));
    const one = openSqliteStore(join(dir, "cp.sqlite"));
    stores = Array.from({ length: INSTANCES }, () => one);
  }
  // Instances of one control plane share its order-signing key.
  const signer = createSigner(generateEd25519KeyPair().privateKey);
  const instances: Harness[] = [];
  for (const store of stores) {
    instances.push(
      await createHarness(store, {
        signer,
        planner: { catalog, llm, settings: { blastRadiusPerHour: 1 } },
      }),
    );
  }
  const first = instances[0] as Harness;
  await recordPassingQualification(first.store.planner, signer, llm);
  return {
    instances,
    store: first.store,
    model,
    async cleanup() {
      await Promise.all(instances.map((h) => h.app.planner.drain()));
      await model.close();
      for (const s of new Set(stores)) await s.close();
      await drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Findings = Pick<Incident, "check_id" | "findings">;
const UNIT = {
  check_id: "services",
  findings: [{ code: "unit_failed", subject: "chronyd.service" }],
};
const CPU = {
  check_id: "services",
  findings: [{ code: "cpu_load_high", subject: "chronyd.service" }],
};
const DISK = { check_id: "services", findings: [{ code: "disk_usage_high" }] };
const BACKUP = {
  check_id: "backups",
  findings: [{ code: "backup_failed", subject: "clinic-data" }],
};
const LOGGING = { check_id: "logging", findings: [{ code: "journal_usage_high" }] };
const CERT = {
  check_id: "encryption",
  findings: [{ code: "certificate_expiring", subject: "/var/lib/compliance-agent/tls.crt" }],
};

describe.each([
  ["SQLite", "sqlite" as const, true],
  ["PostgreSQL (one pool per planner instance)", "postgres" as const, pgReady],
])("guardrails under concurrent planners: %s", (_name, kind, ready) => {
  let world: RaceWorld;
  beforeAll(async () => {
    if (ready) world = await raceWorld(kind);
  }, 60_000);
  afterAll(async () => world?.cleanup());

  it.skipIf(!ready)(
    "answers released at one instant pass the rate limit, blast radius and cooldown only as allowed",
    async () => {
      const h = world.instances[0] as Harness;
      const tag = randomUUID().slice(0, 6);
      const rate = `rate-${tag}`;
      const blastA = `blast-a-${tag}`;
      const blastB = `blast-b-${tag}`;
      const cool = `cool-${tag}`;
      const cas = new Map<string, { certPem: string; keyPem: string }>();
      const appliance = async (tenantId: string, applianceId: string) => {
        const probe = await simulatedAppliance();
        const known = cas.get(tenantId);
        const { ca } = await registerSite(
          h,
          tenantId,
          applianceId,
          probe.mac,
          known ? { ca: known } : {},
        );
        cas.set(tenantId, ca);
      };
      await appliance(rate, `${rate}-01`);
      await appliance(blastA, `${blastA}-01`);
      await appliance(blastA, `${blastA}-02`);
      await appliance(blastB, `${blastB}-01`);
      await appliance(cool, `${cool}-01`);
      const policy = await h.admin(
        `/tenants/${rate}/planner-policy`,
        { max_orders_per_hour: 3 },
        "PUT",
      );
      expect(policy.status).toBe(200);

      const plan: [string, string, Findings][] = [
        // Four different runbooks at one site: only the rate limit can stop the fourth.
        [rate, `${rate}-01`, UNIT],
        [rate, `${rate}-01`, CPU],
        [rate, `${rate}-01`, DISK],
        [rate, `${rate}-01`, BACKUP],
        [blastA, `${blastA}-01`, LOGGING],
        [blastA, `${blastA}-02`, LOGGING],
        [blastB, `${blastB}-01`, LOGGING],
        [cool, `${cool}-01`, CERT],
        [cool, `${cool}-01`, CERT],
        [cool, `${cool}-01`, CERT],
      ];
      const asked = world.model.requests.length;
      await Promise.all(
        plan.map(async ([tenantId, applianceId, findings], i) => {
          const incident: Incident = {
            v: 1,
            type: "incident",
            incident_id: randomUUID(),
            tenant_id: tenantId,
            appliance_id: applianceId,
            severity: "high",
            detected_at: new Date().toISOString(),
            evidence: GENESIS_HEAD,
            local_l1: { attempted: false, why_not: "no local rule" },
            ...findings,
          } as Incident;
          const ids = { tenantId, applianceId, incidentId: incident.incident_id };
          const at = new Date().toISOString();
          await world.store.recordIncident(
            tenantId,
            applianceId,
            ids.incidentId,
            JSON.stringify(incident),
            at,
          );
          await (world.instances[i % INSTANCES] as Harness).app.planner.submit(ids);
        }),
      );
      await Promise.all(world.instances.map((x) => x.app.planner.drain()));
      // Every incident reached the model: each decision was made on a released answer.
      expect(world.model.requests.length - asked).toBe(plan.length);

      const p = world.store.planner;
      const count = (tenantId: string, runbookId?: string) =>
        p.countAttempts({ tenantId, ...(runbookId ? { runbookId } : {}) });
      expect(await count(rate)).toBe(3);
      expect((await count(blastA)) + (await count(blastB))).toBe(1);
      expect(await count(cool, "RB-CERT-001-expiry")).toBe(1);

      // Each answer that was not ordered is in the operator queue, its signed decision naming
      // the guardrail that stopped it.
      const blockedBy = async (tenantId: string) => {
        const decisions = await Promise.all(
          (await world.store.listIncidents(tenantId)).map((i) =>
            p.decisionsForIncident(tenantId, i.incidentId),
          ),
        );
        return decisions
          .flat()
          .map(
            (d) =>
              JSON.parse(d.recordJson) as {
                outcome: string;
                guardrails: { name: string; passed: boolean }[];
              },
          )
          .filter((r) => r.outcome === "escalated")
          .flatMap((r) => r.guardrails.filter((g) => !g.passed).map((g) => g.name));
      };
      expect(await blockedBy(rate)).toEqual(["rate_limit"]);
      expect([...(await blockedBy(blastA)), ...(await blockedBy(blastB))]).toEqual([
        "blast_radius",
        "blast_radius",
      ]);
      expect(await blockedBy(cool)).toEqual(["cooldown", "cooldown"]);
    },
    60_000,
  );
});
