/**
 * bench/protocol: throughput of the protocol layer for typical evidence bundles (~1 KB of
 * canonical JSON): canonicalize, SHA-256, Ed25519 sign and verify with node:crypto and with
 * tweetnacl side by side, sealing a chain link, and verifying a chain. Prints one JSON object.
 *
 *   npm run bench:protocol            (about 1 s per measurement)
 *   BENCH_SECONDS=3 npm run bench:protocol
 *
 * Machines here are noisy: compare the ratios measured in one run, not absolute figures
 * across runs.
 */
import { cpus } from "node:os";
import {
  type BundleDraft,
  canonicalBytes,
  canonicalize,
  createSigner,
  type EvidenceBundle,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  portableKeyPair,
  portableSign,
  portableVerify,
  rawPublicKey,
  sealBundle,
  sha256Hex,
  signBytes,
  signingBytes,
  verificationKey,
  verifyBytes,
  verifyChain,
} from "#protocol";

const seconds = Number(process.env.BENCH_SECONDS ?? "1");
if (!(seconds > 0 && seconds <= 60)) {
  throw new Error("BENCH_SECONDS must be a number of seconds between 0 and 60");
}

/** Runs `op` in batches until `seconds` have passed; returns operations per second. */
function measure(op: () => unknown, batch = 64): number {
  const warmUntil = performance.now() + Math.min(200, seconds * 200);
  while (performance.now() < warmUntil) op();
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) op();
    count += batch;
    now = performance.now();
  }
  return (count * 1000) / (now - start);
}

/** A check result with a realistic number of findings: about 1 KB canonical. */
function typicalDraft(n: number): BundleDraft {
  return {
    tenant_id: "riverside-family-practice",
    appliance_id: "riverside-family-practice-01",
    recorded_at: new Date(Date.UTC(2026, 10, 25, 12, 0, 0, n)).toISOString(),
    event: {
      kind: "check_result",
      check_id: "services",
      status: "drift",
      severity: "high",
      duration_ms: 41.7,
      findings: [
        {
          code: "unit_inactive",
          subject: "chronyd.service",
          expected: "active",
          observed: "failed",
        },
        { code: "restart_count_exceeded", subject: "sshd.service", expected: 3, observed: 7 },
        {
          code: "unit_active",
          subject: "systemd-journald.service",
          expected: "active",
          observed: "active",
        },
        {
          code: "unit_active",
          subject: "nftables.service",
          expected: "active",
          observed: "active",
        },
        {
          code: "unit_active",
          subject: "restic-backups-nightly.timer",
          expected: "active",
          observed: "active",
        },
        {
          code: "unit_active",
          subject: "compliance-agent.service",
          expected: "active",
          observed: "active",
        },
        {
          code: "unit_drop_in_changed",
          subject: "/etc/systemd/system/sshd.service.d/override.conf",
          expected: "9f2c1e0b7a4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b",
          observed: "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c",
        },
      ],
    },
  };
}

const { privateKey, publicKey } = generateEd25519KeyPair();
const signer = createSigner(privateKey);
const seed = new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32));
const portableKeys = portableKeyPair(seed);
const rawPublic = rawPublicKey(publicKey);

const { bundle: sample } = sealBundle(typicalDraft(0), GENESIS_HEAD, signer);
const sampleValue = JSON.parse(JSON.stringify(sample)) as EvidenceBundle;
const message = signingBytes(sample);
const nativeSignature = signBytes(privateKey, message);

// A chain to verify, built once outside the timed part.
const CHAIN_LENGTH = 2000;
const chain: EvidenceBundle[] = [];
let head = GENESIS_HEAD;
for (let i = 0; i < CHAIN_LENGTH; i++) {
  const sealed = sealBundle(typicalDraft(i), head, signer);
  chain.push(sealed.bundle);
  head = sealed.head;
}
const chainOptions = {
  key: verificationKey(publicKey),
  tenantId: sample.tenant_id,
  applianceId: sample.appliance_id,
};

const native = {
  sign_per_s: Math.round(measure(() => signBytes(privateKey, message))),
  verify_per_s: Math.round(measure(() => verifyBytes(publicKey, message, nativeSignature))),
};
const tweetnacl = {
  sign_per_s: Math.round(measure(() => portableSign(portableKeys, message), 4)),
  verify_per_s: Math.round(measure(() => portableVerify(rawPublic, message, nativeSignature), 4)),
};

let appendHead = GENESIS_HEAD;
let appendIndex = 0;
const chainAppend = Math.round(
  measure(() => {
    appendHead = sealBundle(typicalDraft(appendIndex++), appendHead, signer).head;
  }),
);

const chainVerifyRuns = measure(() => verifyChain(chain, chainOptions), 1);

const result = {
  benchmark: "protocol",
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  seconds_per_measurement: seconds,
  bundle_canonical_bytes: canonicalBytes(sampleValue).byteLength,
  canonicalize_per_s: Math.round(measure(() => canonicalize(sampleValue))),
  sha256_per_s: Math.round(measure(() => sha256Hex(message))),
  ed25519: {
    node_crypto: native,
    tweetnacl,
    ratio_node_over_tweetnacl: {
      sign: round(native.sign_per_s / tweetnacl.sign_per_s),
      verify: round(native.verify_per_s / tweetnacl.verify_per_s),
    },
  },
  chain_append_per_s: chainAppend,
  chain_verify_bundles_per_s: Math.round(chainVerifyRuns * CHAIN_LENGTH),
  ratio_chain_append_over_sign: round(chainAppend / native.sign_per_s),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
