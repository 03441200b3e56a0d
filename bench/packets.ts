/**
 * bench/packets: one month's compliance packet of a site with BENCH_APPLIANCES appliances
 * (default 50), each with BENCH_BUNDLES check results (default 51,840: six checks every 300 s, the
 * agent's default interval, for 30 days; 50 x 51,840 is about 2.6 M bundles), recorded evenly
 * over the month, in a real SQLite store. Each phase runs in its own child process on the seeded
 * store, so each peak RSS (the process's max RSS) is that phase's alone:
 * - baseline: reading every bundle from the Store and verifying each chain with protocol's
 *   verifyChain, holding an appliance's chain at a time (what packets did before heads);
 * - cold: the first packet, which verifies every chain in full and stores the verified heads;
 * - warm: the next version after one more day's share of evidence per appliance (a thirtieth,
 *   1,728 bundles at the default size): only those are verified in full, the rest re-hashed
 *   against the signed heads.
 * Prints one JSON object with the times, the peaks and the load average.
 *
 *   npm run bench:packets
 *   BENCH_APPLIANCES=5 BENCH_BUNDLES=8640 npm run bench:packets
 */
import { spawnSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ChainHead,
  createSigner,
  EvidenceBundle,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  keyId,
  publicKeyFromBase64,
  publicKeyToBase64,
  type Signer,
  sealBundle,
  verificationKey,
  verifyChain,
} from "#protocol";
import { generatePacket, previousMonth } from "../control-plane/src/packets/index.ts";
import { openSqliteStore } from "../control-plane/src/store/index.ts";

const bundles = Number(process.env.BENCH_BUNDLES ?? "51840");
if (!(Number.isInteger(bundles) && bundles >= 100 && bundles <= 500_000)) {
  throw new Error("BENCH_BUNDLES must be an integer between 100 and 500000");
}
const applianceCount = Number(process.env.BENCH_APPLIANCES ?? "50");
if (!(Number.isInteger(applianceCount) && applianceCount >= 1 && applianceCount <= 200)) {
  throw new Error("BENCH_APPLIANCES must be an integer between 1 and 200");
}
const root = join(import.meta.dirname, "..");
const tenantId = "bench-clinic";
const month = previousMonth(new Date());
const monthStart = Date.parse(`${month}-01T00:00:00Z`);
// Six checks every 300 s: one check result every 50 s on each appliance.
const stepMs = (300 / 6) * 1000;
// One day's share of the month's bundles (1,728 at the default size): what the warm packet adds.
const EXTRA = Math.max(1, Math.round(bundles / 30));
const checks = ["patching", "services", "backups", "firewall", "logging", "encryption"] as const;
const phase = process.env.BENCH_PHASE;

if (phase) await runPhase(phase, process.env.BENCH_DIR ?? "");
else await main();

/** One phase in this (child) process: prints its JSON line. */
async function runPhase(name: string, dir: string): Promise<void> {
  const store = openSqliteStore(join(dir, "cp.sqlite"));
  const t0 = performance.now();
  let result: Record<string, unknown>;
  try {
    if (name === "baseline") {
      let verified = 0;
      for (const a of await store.listAppliances(tenantId)) {
        const all: EvidenceBundle[] = [];
        for (let after = 0; ; ) {
          const page = await store.listEvidenceForArchive(tenantId, a.applianceId, after, 1000);
          for (const r of page) all.push(EvidenceBundle.parse(JSON.parse(r.bundleJson)));
          if (page.length < 1000) break;
          after = page.at(-1)?.seq ?? after;
        }
        const verdict = verifyChain(all, {
          key: verificationKey(publicKeyFromBase64(a.evidencePublicKey ?? "")),
          tenantId,
          applianceId: a.applianceId,
        });
        if (!verdict.ok) throw new Error("the bench chain does not verify");
        verified += all.length;
      }
      result = { verified };
    } else {
      const signer = createSigner(createPrivateKey(readFileSync(join(dir, "cp.key"), "utf8")));
      const made = await generatePacket(
        {
          store,
          signer,
          catalogDir: root,
          packetsDir: join(dir, "packets"),
          archiveKind: "local-not-worm",
          now: () => new Date(),
        },
        tenantId,
        month,
        name === "cold" ? { requestedBy: "bench" } : { requestedBy: "bench", reason: "warm" },
      );
      result = {
        version: made.record.version,
        month_bundles: made.record.counts.bundles,
        chains_verified: (await readFile(join(made.dir, "packet.md"), "utf8")).includes(
          "| Evidence chains verified | all |",
        ),
      };
    }
  } finally {
    await store.close();
  }
  process.stdout.write(
    `${JSON.stringify({
      ...result,
      ms: Math.round(performance.now() - t0),
      cpu_s: Number(((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(1)),
      max_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    })}\n`,
  );
}

function child(name: string, dir: string): Record<string, unknown> {
  const out = spawnSync(process.execPath, [import.meta.filename], {
    env: { ...process.env, BENCH_PHASE: name, BENCH_DIR: dir },
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (out.status !== 0) throw new Error(`${name} failed: ${out.stderr}`);
  return JSON.parse(out.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "msp-packets-bench-"));
  const store = openSqliteStore(join(dir, "cp.sqlite"));
  try {
    await store.migrate();
    const at = new Date().toISOString();
    await store.upsertTenant({ tenantId, caCertPem: "ca", caKeySealed: "x", retentionDays: 2192 });
    const cpKey = generateEd25519KeyPair().privateKey;
    writeFileSync(join(dir, "cp.key"), cpKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
    });
    const appliances: { applianceId: string; signer: Signer; head: ChainHead }[] = [];
    const seedStart = performance.now();
    for (let n = 1; n <= applianceCount; n++) {
      const applianceId = `bench-${String(n).padStart(2, "0")}`;
      const appliance = createSigner(generateEd25519KeyPair().privateKey);
      await store.registerAppliance({
        tenantId,
        applianceId,
        macs: [
          `02:00:00:00:${String(Math.floor(n / 100)).padStart(2, "0")}:${String(n % 100).padStart(2, "0")}`,
        ],
        settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
        tokenHash: null,
        tokenExpiresAt: null,
        createdAt: at,
      });
      const claim = {
        evidencePublicKey: publicKeyToBase64(appliance.publicKey),
        evidenceKeyFingerprint: keyId(appliance.publicKey),
        csrPem: "csr",
        hostname: applianceId,
        agentVersion: "bench",
      };
      await store.setPending(tenantId, applianceId, claim);
      await store.approve(tenantId, applianceId, claim.evidenceKeyFingerprint);
      await store.activate(
        tenantId,
        applianceId,
        { ...claim, certPem: "c", certFingerprint: `${n}`.padStart(64, "f"), at },
        false,
      );
      const seeded = { applianceId, signer: appliance, head: GENESIS_HEAD };
      seeded.head = await seed(store, seeded, 0, bundles);
      appliances.push(seeded);
    }
    const seedMs = performance.now() - seedStart;

    const cold = child("cold", dir);
    // One more day of evidence per appliance, received after the month: the warm packet
    // verifies only these in full.
    for (const a of appliances) a.head = await seed(store, a, bundles, bundles + EXTRA);
    const warm = child("warm", dir);
    const baseline = child("baseline", dir);
    // The extra day falls after the month only at the full month's size; before, it counts in.
    if (
      cold.month_bundles !== applianceCount * bundles ||
      Number(warm.month_bundles) < Number(cold.month_bundles)
    )
      throw new Error(`packets counted ${JSON.stringify({ cold, warm })}`);
    const ratio = (x: unknown) => Number((Number(x) / Number(baseline.ms)).toFixed(2));
    process.stdout.write(
      `${JSON.stringify({
        bench: "packets",
        appliances: applianceCount,
        bundles_per_appliance: bundles,
        month_bundles: applianceCount * bundles,
        chain_bundles: applianceCount * (bundles + EXTRA),
        seed_ms: Math.round(seedMs),
        baseline:
          "read every bundle from the Store + verifyChain per appliance, same store, same run",
        baseline_phase: baseline,
        cold_packet: { ...cold, vs_baseline: ratio(cold.ms) },
        warm_packet: { ...warm, vs_baseline: ratio(warm.ms) },
        loadavg_1_5_15: loadavg().map((l) => Number(l.toFixed(1))),
      })}\n`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Appends check results [from, to) of the month's schedule to an appliance's chain. */
async function seed(
  store: ReturnType<typeof openSqliteStore>,
  a: { applianceId: string; signer: Signer; head: ChainHead },
  from: number,
  to: number,
): Promise<ChainHead> {
  let head = a.head;
  for (let i = from; i < to; i += 500) {
    const rows = [];
    const start = head;
    let last = "";
    for (let j = i; j < Math.min(to, i + 500); j++) {
      last = new Date(monthStart + j * stepMs).toISOString();
      const sealed = sealBundle(
        {
          tenant_id: tenantId,
          appliance_id: a.applianceId,
          recorded_at: last,
          event: {
            kind: "check_result",
            check_id: checks[j % 6] as (typeof checks)[number],
            status: j % 5000 === 0 ? "drift" : "pass",
            severity: "medium",
            findings:
              j % 5000 === 0
                ? [{ code: "bench_drift", subject: "x", expected: "a", observed: "b" }]
                : [],
            duration_ms: 4,
          },
        },
        head,
        a.signer,
      );
      rows.push({
        seq: sealed.head.seq,
        hash: sealed.head.hash,
        prevHash: head.hash,
        bundleJson: JSON.stringify(sealed.bundle),
      });
      head = sealed.head;
    }
    await store.appendEvidence(tenantId, a.applianceId, start, rows, last);
  }
  return head;
}
