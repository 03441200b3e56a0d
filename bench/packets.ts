/**
 * bench/packets: one month's compliance packet of a site with BENCH_APPLIANCES appliances
 * (default 50), each with BENCH_BUNDLES check results (default 51,840: six checks every 300 s, the
 * agent's default interval, for 30 days; 50 x 51,840 is about 2.6 M bundles), recorded evenly
 * over the month, in a real SQLite store. Prints one JSON object with the time and the peak RSS
 * (sampled every 50 ms, and the process's max RSS). The baseline is measured in the same run on
 * the same bundles: reading them from the Store and verifying each chain with protocol's
 * verifyChain, which the packet must do anyway; the packet's figure is given as a ratio against it.
 *
 *   npm run bench:packets
 *   BENCH_APPLIANCES=5 BENCH_BUNDLES=8640 npm run bench:packets
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createSigner,
  EvidenceBundle,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  keyId,
  publicKeyToBase64,
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
const dir = mkdtempSync(join(tmpdir(), "msp-packets-bench-"));
const store = openSqliteStore(join(dir, "cp.sqlite"));
try {
  await store.migrate();
  const tenantId = "bench-clinic";
  const month = previousMonth(new Date());
  const monthStart = Date.parse(`${month}-01T00:00:00Z`);
  // Six checks every 300 s: one check result every 50 s on each appliance.
  const stepMs = (300 / 6) * 1000;
  const at = new Date().toISOString();
  await store.upsertTenant({ tenantId, caCertPem: "ca", caKeySealed: "x", retentionDays: 2192 });
  const keys: { applianceId: string; signer: ReturnType<typeof createSigner> }[] = [];
  const checks = ["patching", "services", "backups", "firewall", "logging", "encryption"] as const;
  const seedStart = performance.now();
  for (let n = 1; n <= applianceCount; n++) {
    const applianceId = `bench-${String(n).padStart(2, "0")}`;
    const appliance = createSigner(generateEd25519KeyPair().privateKey);
    keys.push({ applianceId, signer: appliance });
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
    let head = GENESIS_HEAD;
    for (let i = 0; i < bundles; i += 500) {
      const rows = [];
      const from = head;
      let last = "";
      for (let j = i; j < Math.min(bundles, i + 500); j++) {
        last = new Date(monthStart + j * stepMs).toISOString();
        const sealed = sealBundle(
          {
            tenant_id: tenantId,
            appliance_id: applianceId,
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
          appliance,
        );
        rows.push({
          seq: sealed.head.seq,
          hash: sealed.head.hash,
          prevHash: head.hash,
          bundleJson: JSON.stringify(sealed.bundle),
        });
        head = sealed.head;
      }
      await store.appendEvidence(tenantId, applianceId, from, rows, last);
    }
  }
  const seedMs = performance.now() - seedStart;

  let peak = 0;
  const sample = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const t0 = performance.now();
  let verified = 0;
  for (const { applianceId, signer } of keys) {
    const all: EvidenceBundle[] = [];
    for (let after = 0; ; ) {
      const page = await store.listEvidenceForArchive(tenantId, applianceId, after, 1000);
      for (const r of page) all.push(EvidenceBundle.parse(JSON.parse(r.bundleJson)));
      if (page.length < 1000) break;
      after = page.at(-1)?.seq ?? after;
    }
    const verdict = verifyChain(all, {
      key: verificationKey(signer.publicKey),
      tenantId,
      applianceId,
    });
    if (!verdict.ok) throw new Error("the bench chain does not verify");
    verified += all.length;
  }
  const baselineMs = performance.now() - t0;
  const baselinePeak = peak;
  peak = 0;

  const signer = createSigner(generateEd25519KeyPair().privateKey);
  const t1 = performance.now();
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
    { requestedBy: "bench" },
  );
  const packetMs = performance.now() - t1;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (made.record.counts.bundles !== verified)
    throw new Error(`packet counted ${JSON.stringify(made.record.counts)}, read ${verified}`);
  process.stdout.write(
    `${JSON.stringify({
      bench: "packets",
      appliances: applianceCount,
      bundles_per_appliance: bundles,
      bundles: verified,
      seed_ms: Math.round(seedMs),
      baseline: "read from the Store + verifyChain, same bundles, same run",
      baseline_ms: Math.round(baselineMs),
      baseline_peak_rss_mib: Math.round(baselinePeak / 2 ** 20),
      packet_ms: Math.round(packetMs),
      packet_vs_baseline: Number((packetMs / baselineMs).toFixed(2)),
      packet_peak_rss_mib: Math.round(peak / 2 ** 20),
      max_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
      pdf_bytes: made.manifest.files.find((f) => f.name === "packet.pdf")?.bytes,
    })}\n`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
