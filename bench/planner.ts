/**
 * bench/planner: the incident pipeline's own cost. Prints one JSON object.
 *
 *   npm run bench:planner                 (BENCH_ITERATIONS=200 by default)
 *
 * - L1 decision time: the appliance's L1 engine matching a finding with flywheel rules from a
 *   verified signed rule set (agent/src/healing + agent/src/flywheel), and the control plane's
 *   own L1 decision for one incident end to end in-process on SQLite (POST, rule lookup, ten
 *   guardrails, order, signed decision record, audit entry).
 * - Pipeline overhead around the LLM call: the same incident decided by L2 with the real openai
 *   SDK against a local OpenAI-compatible server that answers at once; the model call's own
 *   latency (recorded per decision) is subtracted.
 * - The same L2 decision overhead on PostgreSQL: one incident at a time (the baseline), then 16
 *   incidents at once from 16 sites with the planner deciding 16 at a time, so their
 *   transactions meet on the runbook's guardrail lock row; per incident, from its POST to the
 *   commit of its decision, minus its model call. Ratios against the single-incident figure.
 *   Needs PostgreSQL (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test); each
 *   run uses a schema of its own and drops it.
 * Baselines measured in the same run: the existing admin order route (order machinery alone),
 * and a bare HTTP round trip to the same model server (what the SDK adds on top).
 * Machines here are noisy: compare the ratios of one run, not absolute figures across runs.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { flywheelRules } from "../agent/src/flywheel/index.ts";
import { createL1Engine } from "../agent/src/healing/index.ts";
import { openPostgresStore, type Store } from "../control-plane/src/store/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "../control-plane/src/store/postgres/test-database.ts";
import { allowedIds, choose } from "../control-plane/src/testing/model-server.ts";
import {
  type SimulatedSite,
  startPlannerWorld,
} from "../control-plane/src/testing/planner-world.ts";
import {
  createSigner,
  generateEd25519KeyPair,
  L1RuleSet,
  signDocument,
  verificationKey,
} from "../protocol/index.ts";

const iterations = Number(process.env.BENCH_ITERATIONS ?? "200");
if (!(Number.isInteger(iterations) && iterations >= 10 && iterations <= 4000)) {
  // Each site may have at most 10,000 automatic orders an hour (the rate_limit guardrail).
  throw new Error("BENCH_ITERATIONS must be an integer between 10 and 4000");
}

const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { mean_ms: r(mean), p50_ms: r(at(0.5)), p99_ms: r(at(0.99)) };
};

async function timeEach(n: number, op: (i: number) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < Math.min(20, n); i++) await op(-1 - i); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    samples.push(performance.now() - t);
  }
  return samples;
}

/** The appliance's L1 match with a verified flywheel rule set in its source. */
function applianceL1Match(world: Awaited<ReturnType<typeof startPlannerWorld>>) {
  const dir = mkdtempSync(join(tmpdir(), "bench-planner-"));
  try {
    const signer = createSigner(generateEd25519KeyPair().privateKey);
    const source = flywheelRules({
      stateDir: dir,
      allowlist: new Set(world.catalog.runbooks.map((r) => r.id)),
    });
    source.bind({
      key: verificationKey(signer.publicKey),
      tenantId: "bench",
      applianceId: "bench-01",
      record: () => {},
    });
    const set = signDocument<L1RuleSet>(
      L1RuleSet,
      {
        v: 1,
        type: "l1_rule_set",
        tenant_id: "bench",
        appliance_id: "bench-01",
        version: 1,
        issued_at: new Date().toISOString(),
        rules: [
          {
            rule_id: randomUUID(),
            check_id: "services",
            finding: "cpu_load_high",
            runbook_id: "RB-CPU-001-high",
            approved_by: "operator:bench",
            approved_at: new Date().toISOString(),
            successes: 5,
          },
        ],
      },
      signer,
    );
    const verifyStart = performance.now();
    const verdict = source.offer(set);
    const verifyMs = performance.now() - verifyStart;
    if (!verdict?.ok) throw new Error("rule set refused");
    const engine = createL1Engine(world.catalog.runbooks, source);
    const ops = 200_000;
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (engine.match("services", "cpu_load_high")) hits++;
    const start = performance.now();
    for (let i = 0; i < ops; i++) {
      if (engine.match("services", i % 2 ? "cpu_load_high" : "unit_failed")) hits++;
    }
    const perOpNs = ((performance.now() - start) * 1e6) / ops;
    return {
      match_ns: Math.round(perOpNs),
      rule_set_verify_and_persist_ms: Math.round(verifyMs * 1000) / 1000,
      hits,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CONCURRENT = 16;

/**
 * The store with the moment each decision commits noted per incident (performance.now()), so
 * an incident decided among 15 others is timed alone, lock waits included.
 */
function timedStore(store: Store, committed: Map<string, number>): Store {
  const planner = store.planner;
  return {
    ...store,
    planner: {
      ...planner,
      async commitGuardedDecision(commit, guard) {
        const r = await planner.commitGuardedDecision(commit, guard);
        committed.set(commit.incidentId, performance.now());
        return r;
      },
    },
  };
}

/** L2 decision overhead on PostgreSQL: one incident at a time, then 16 at once. */
async function postgresOverhead() {
  const { schema, drop } = await createTestSchema();
  const committed = new Map<string, number>();
  const store = timedStore(
    openPostgresStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 20 }),
    committed,
  );
  const pg = await startPlannerWorld({
    store,
    planner: {
      concurrency: CONCURRENT,
      settings: { blastRadiusPerHour: 1_000_000, flywheelMinSuccesses: 1_000_000 },
    },
    app: { applianceRateLimit: { perMinute: 10_000_000, burst: 10_000_000 } },
  });
  pg.model.answer = (r) => choose(allowedIds(r)[0] ?? "escalate", 0.95);
  try {
    const sites: SimulatedSite[] = [];
    const policy = { cooldown_s: 0, max_orders_per_hour: 10_000, max_attempts_per_incident: 10 };
    for (let i = 0; i < CONCURRENT; i++) {
      const tenant = `pg-${i}`;
      sites.push(await pg.site(tenant, `${tenant}-01`));
      const res = await pg.h.admin(`/tenants/${tenant}/planner-policy`, policy, "PUT");
      if (res.status !== 200) throw new Error(`policy: ${await res.text()}`);
    }
    const drift = {
      check_id: "backups",
      findings: [{ code: "backup_failed", subject: "clinic-data" }],
    };
    const started = new Map<string, number>();
    const post = async (site: SimulatedSite) => {
      const t = performance.now();
      const incident = await site.post(drift);
      started.set(incident.incident_id, t);
      return incident.incident_id;
    };
    const single: string[] = [];
    for (let i = -20; i < iterations; i++) {
      const id = await post(sites[0] as SimulatedSite);
      await pg.h.app.planner.drain();
      if (i >= 0) single.push(id);
    }
    const concurrent: string[] = [];
    const rounds = Math.ceil(iterations / CONCURRENT);
    const roundMs: number[] = [];
    for (let round = -2; round < rounds; round++) {
      const t = performance.now();
      const ids = await Promise.all(sites.map(post));
      await pg.h.app.planner.drain();
      if (round >= 0) {
        concurrent.push(...ids);
        roundMs.push(performance.now() - t);
      }
    }
    // The model call of each incident, from its signed decision record.
    const llmMs = new Map<string, number>();
    for (const site of sites) {
      for (const r of (await site.decisions()).records) {
        if (r.outcome !== "order_issued" || !r.llm) continue;
        llmMs.set(r.incident_id, r.llm.latency_ms);
      }
    }
    const overhead = (ids: string[]) =>
      ids.map((id) => {
        const end = committed.get(id);
        const model = llmMs.get(id);
        const start = started.get(id);
        if (end === undefined || model === undefined || start === undefined) {
          throw new Error(`incident ${id} was not ordered by L2`);
        }
        return end - start - model;
      });
    return {
      single: stats(overhead(single)),
      concurrent: stats(overhead(concurrent)),
      concurrentSamples: concurrent.length,
      round: stats(roundMs),
    };
  } finally {
    await pg.cleanup();
    await drop();
  }
}

const world = await startPlannerWorld({
  planner: { settings: { blastRadiusPerHour: 1_000_000, flywheelMinSuccesses: 1_000_000 } },
  // The bench posts hundreds of incidents a second from one appliance.
  app: { applianceRateLimit: { perMinute: 10_000_000, burst: 10_000_000 } },
});
world.model.answer = (r) => choose(allowedIds(r)[0] ?? "escalate", 0.95);
try {
  // Two sites measured alternately (the tables grow evenly): one answers by L2, the other has
  // an approved L1 rule for the same finding.
  const l2Site = await world.site("bench", "bench-01");
  const l1Site = await world.site("bench-l1", "bench-l1-01");
  const policy = { cooldown_s: 0, max_orders_per_hour: 10_000, max_attempts_per_incident: 10 };
  for (const tenant of ["bench", "bench-l1"]) {
    const res = await world.h.admin(`/tenants/${tenant}/planner-policy`, policy, "PUT");
    if (res.status !== 200) throw new Error(`policy: ${await res.text()}`);
  }
  await world.h.store.planner.appendRuleSet({
    tenantId: "bench-l1",
    version: 1,
    issuedAt: new Date().toISOString(),
    rulesJson: JSON.stringify([
      {
        rule_id: randomUUID(),
        check_id: "backups",
        finding: "backup_failed",
        runbook_id: "RB-BACKUP-001-failure",
        approved_by: "operator:bench",
        approved_at: new Date().toISOString(),
        successes: 5,
      },
    ]),
  });
  const drift = {
    check_id: "backups",
    findings: [{ code: "backup_failed", subject: "clinic-data" }],
  };

  // Baseline 1: the order machinery alone (admin route: order + audit entry).
  const adminOrder = await timeEach(iterations, async () => {
    const res = await world.h.admin("/tenants/bench/appliances/bench-01/orders", {
      runbook_id: "RB-SERVICE-001-crash",
      params: { unit: "chronyd.service" },
    });
    if (res.status !== 201) throw new Error(`admin order: ${res.status}`);
  });

  const l1: number[] = [];
  const l2: number[] = [];
  for (let i = -20; i < iterations; i++) {
    for (const [site, samples] of [
      [l2Site, l2],
      [l1Site, l1],
    ] as const) {
      const t = performance.now();
      await site.incident(drift);
      if (i >= 0) samples.push(performance.now() - t);
    }
  }
  const llmLatencies = (await l2Site.decisions()).records
    .filter((r) => r.llm && r.outcome === "order_issued")
    .slice(-iterations)
    .map((r) => r.llm?.latency_ms ?? 0);
  const l1Records = (await l1Site.decisions()).records;
  if (llmLatencies.length !== iterations) throw new Error("L2 did not order every time");
  if (l1Records.some((r) => r.tier !== "L1" || r.outcome !== "order_issued")) {
    throw new Error("the L1 site was not decided by its L1 rule every time");
  }

  // Baseline 2: a bare HTTP round trip to the same model server.
  const body = JSON.stringify({
    model: "m",
    messages: [],
    response_format: {
      type: "json_schema",
      json_schema: { name: "x", schema: { properties: { runbook_id: { enum: ["escalate"] } } } },
    },
  });
  const rawHttp = await timeEach(iterations, async () => {
    const res = await fetch(`${world.model.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    await res.text();
  });

  const l2Stats = stats(l2);
  const llmStats = stats(llmLatencies);
  const overhead = l2.map((t, i) => t - (llmLatencies[i] ?? 0));
  const overheadStats = stats(overhead);
  const l1Stats = stats(l1);
  const adminStats = stats(adminOrder);
  const rawStats = stats(rawHttp);
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const appliance = applianceL1Match(world);
  const onPostgres = (await postgresReachable()) ? await postgresOverhead() : undefined;
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: "planner",
        node: process.version,
        cpus: cpus().length,
        iterations,
        store: "sqlite (in-process app, app.request)",
        appliance_l1: appliance,
        control_plane_l1_decision: l1Stats,
        l2_pipeline_total: l2Stats,
        l2_llm_call_sdk: llmStats,
        l2_pipeline_overhead_excluding_llm: overheadStats,
        baseline_admin_order: adminStats,
        baseline_raw_http_to_model: rawStats,
        ratios: {
          cp_l1_decision_vs_admin_order_p50: ratio(l1Stats.p50_ms, adminStats.p50_ms),
          l2_overhead_vs_cp_l1_decision_p50: ratio(overheadStats.p50_ms, l1Stats.p50_ms),
          sdk_call_vs_raw_http_p50: ratio(llmStats.p50_ms, rawStats.p50_ms),
          l2_total_vs_cp_l1_p50: ratio(l2Stats.p50_ms, l1Stats.p50_ms),
        },
        postgres: onPostgres
          ? {
              store: "postgresql (in-process app, pool of 20, planner concurrency 16)",
              l2_overhead_single_incident: onPostgres.single,
              l2_overhead_16_concurrent_incidents: onPostgres.concurrent,
              concurrent_samples: onPostgres.concurrentSamples,
              round_of_16_wall: onPostgres.round,
              ratios: {
                concurrent_vs_single_p50: ratio(
                  onPostgres.concurrent.p50_ms,
                  onPostgres.single.p50_ms,
                ),
                concurrent_vs_single_p99: ratio(
                  onPostgres.concurrent.p99_ms,
                  onPostgres.single.p99_ms,
                ),
              },
            }
          : "skipped: PostgreSQL is not reachable",
        targets: { l1_ms: 100, l1_aim_ms: 1 },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await world.cleanup();
}
