/**
 * bench/packets: one month's compliance packet of one appliance with BENCH_BUNDLES check results
 * (default 20,000: six checks every ~13 minutes for a month) in a real SQLite store. Prints one
 * JSON object. The baseline is measured in the same run on the same bundles: reading them from the
 * Store and verifying the chain with protocol's verifyChain, which the packet must do anyway; the
 * packet's figure is given as a ratio against it (what gathering, rendering the PDF and Markdown,
 * signing and writing add).
 *
 *   npm run bench:packets
 *   BENCH_BUNDLES=50000 npm run bench:packets
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
import { generatePacket } from "../control-plane/src/packets/index.ts";
import { openSqliteStore } from "../control-plane/src/store/index.ts";

const bundles = Number(process.env.BENCH_BUNDLES ?? "20000");
if (!(Number.isInteger(bundles) && bundles >= 100 && bundles <= 500_000)) {
  throw new Error("BENCH_BUNDLES must be an integer between 100 and 500000");
}
const root = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "msp-packets-bench-"));
const store = openSqliteStore(join(dir, "cp.sqlite"));
try {
  await store.migrate();
  const tenantId = "bench-clinic";
  const applianceId = "bench-01";
  const appliance = createSigner(generateEd25519KeyPair().privateKey);
  const at = new Date().toISOString();
  await store.upsertTenant({ tenantId, caCertPem: "ca", caKeySealed: "x", retentionDays: 2192 });
  await store.registerAppliance({
    tenantId,
    applianceId,
    macs: ["02:00:00:00:00:01"],
    settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
    tokenHash: null,
    tokenExpiresAt: null,
    createdAt: at,
  });
  const claim = {
    evidencePublicKey: publicKeyToBase64(appliance.publicKey),
    evidenceKeyFingerprint: keyId(appliance.publicKey),
    csrPem: "csr",
    hostname: "bench",
    agentVersion: "bench",
  };
  await store.setPending(tenantId, applianceId, claim);
  await store.approve(tenantId, applianceId, claim.evidenceKeyFingerprint);
  await store.activate(
    tenantId,
    applianceId,
    { ...claim, certPem: "c", certFingerprint: "f".repeat(64), at },
    false,
  );
  const checks = ["patching", "services", "backups", "firewall", "logging", "encryption"] as const;
  let head = GENESIS_HEAD;
  for (let i = 0; i < bundles; i += 500) {
    const rows = [];
    const from = head;
    for (let j = i; j < Math.min(bundles, i + 500); j++) {
      const sealed = sealBundle(
        {
          tenant_id: tenantId,
          appliance_id: applianceId,
          recorded_at: at,
          event: {
            kind: "check_result",
            check_id: checks[j % 6] as (typeof checks)[number],
            status: j % 50 === 0 ? "drift" : "pass",
            severity: "medium",
            findings: [],
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
    await store.appendEvidence(tenantId, applianceId, from, rows, at);
  }

  const t0 = performance.now();
  const all: EvidenceBundle[] = [];
  for (let after = 0; ; ) {
    const page = await store.listEvidenceForArchive(tenantId, applianceId, after, 1000);
    for (const r of page) all.push(EvidenceBundle.parse(JSON.parse(r.bundleJson)));
    if (page.length < 1000) break;
    after = page.at(-1)?.seq ?? after;
  }
  const verdict = verifyChain(all, {
    key: verificationKey(appliance.publicKey),
    tenantId,
    applianceId,
  });
  const baselineMs = performance.now() - t0;
  if (!verdict.ok) throw new Error("the bench chain does not verify");

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
    at.slice(0, 7),
  );
  const packetMs = performance.now() - t1;
  if (made.record.counts.bundles !== bundles)
    throw new Error(`packet counted ${JSON.stringify(made.record.counts)}, read ${all.length}`);
  process.stdout.write(
    `${JSON.stringify({
      bench: "packets",
      bundles,
      baseline: "read from the Store + verifyChain, same bundles, same run",
      baseline_ms: Math.round(baselineMs),
      packet_ms: Math.round(packetMs),
      packet_vs_baseline: Number((packetMs / baselineMs).toFixed(2)),
      rss_mib: Math.round(process.memoryUsage().rss / 2 ** 20),
    })}\n`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
