import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleHash,
  type ChainHead,
  cosignCheckpoint,
  createSigner,
  type EvidenceBundle,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  type PollResponse,
  sealBundle,
  sha256Hex,
  toHex,
  verificationKey,
  verifyCheckpointDelivery,
  verifyPollResponse,
} from "#protocol";
import { silentLogger } from "../logger.ts";
import { gatherPacket } from "../packets/gather.ts";
import { openSqliteStore, type Store } from "../store/index.ts";
import { createHarness, type Harness, pollBody } from "../testing/harness.ts";
import { type asAppliance, chain, enrolledAppliance, upload } from "../testing/in-process.ts";
import type { Archive } from "./archive.ts";
import { localArchive } from "./local-archive.ts";
import { createVault, type Vault } from "./vault.ts";

const root = mkdtempSync(join(tmpdir(), "cp-vault-"));
let clock = new Date("2026-11-25T10:15:00.000Z");
let failNextPuts = 0;
let h: Harness;
let vault: Vault;
let local: Archive;
const hashes: string[] = [];
let head: ChainHead = GENESIS_HEAD;
let call: ReturnType<typeof asAppliance>;
let signer: Parameters<typeof chain>[0];
let exportDir = "";
const cpSigner = createSigner(generateEd25519KeyPair().privateKey);
const cpKey = verificationKey(cpSigner.publicKey);

/** A real local archive whose next puts can be made to fail (retry and backoff). */
const flaky: Archive = {
  kind: "local-not-worm",
  describe: "flaky",
  put: (object) => {
    if (failNextPuts > 0) {
      failNextPuts--;
      return Promise.reject(new Error("archive unreachable"));
    }
    return local.put(object);
  },
};

const vaultOptions = (store: Store) => ({
  store,
  signer: cpSigner,
  archive: flaky,
  logger: silentLogger,
  now: () => clock,
  retentionDays: 2192,
  segmentSeconds: 3600,
});

beforeAll(async () => {
  const store = openSqliteStore(join(root, "cp.sqlite"));
  local = localArchive(join(root, "archive"));
  vault = createVault({ ...vaultOptions(store), retryBaseMs: 1000 });
  h = await createHarness(store, {
    signer: cpSigner,
    clock: () => clock,
    vault,
    exportsDir: join(root, "exports"),
    archiveKind: "local-not-worm",
  });
  ({ call, signer } = await enrolledAppliance(h, "clinic-v", "v-01"));
});
afterAll(async () => {
  await h.store.close();
  rmSync(root, { recursive: true, force: true });
});

async function push(count: number) {
  const next = chain(signer, "clinic-v", "v-01", count, head);
  const res = await call("/v1/appliance/evidence", upload("clinic-v", "v-01", next.bundles));
  expect(res.status).toBe(200);
  hashes.push(...next.bundles.map((b: EvidenceBundle) => bundleHash(b)));
  head = next.head;
}

async function poll(checkpointSize?: number) {
  const body = {
    ...pollBody("clinic-v", "v-01"),
    ...(checkpointSize !== undefined ? { checkpoint_size: checkpointSize } : {}),
  };
  const res = await call("/v1/appliance/poll", body);
  expect(res.status).toBe(200);
  const verdict = verifyPollResponse(res.json, {
    key: cpKey,
    tenantId: "clinic-v",
    applianceId: "v-01",
    nonce: body.nonce,
    lastOrderSeq: 0,
    seenOrderIds: new Set(),
    runbooks: new Set(),
    now: clock,
  });
  expect(verdict.ok).toBe(true);
  return res.json as unknown as PollResponse;
}

const appliance = (last?: { treeSize: number; rootHash: string }) => ({
  key: cpKey,
  tenantId: "clinic-v",
  applianceId: "v-01",
  last,
  bundleHashAt: (seq: number) => hashes[seq - 1],
});

/** Runs the bash blocks of docs/auditor.md, in order, in an export directory with the pins set. */
function auditorDocBlocks(): string[] {
  const doc = readFileSync(join(import.meta.dirname, "../../../docs/auditor.md"), "utf8");
  return [...doc.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}
function runAuditorDoc(dir: string, pins: { APPLIANCE_KEY_ID: string; CP_KEY_ID: string }) {
  const blocks = auditorDocBlocks();
  expect(blocks.length).toBe(9);
  return spawnSync("bash", ["-euo", "pipefail", "-c", blocks.join("\n")], {
    cwd: dir,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...pins },
  });
}

describe("evidence vault on the control plane", () => {
  it("publishes signed checkpoints that polls deliver with proofs the appliance accepts", async () => {
    await push(30);
    expect(await vault.publishCheckpoints()).toBe(1);
    expect(await vault.publishCheckpoints()).toBe(0); // nothing new: nothing signed
    const first = await poll();
    expect(first.checkpoint?.checkpoint.tree_size).toBe(30);
    const v1 = verifyCheckpointDelivery(first.checkpoint, appliance());
    expect(v1).toMatchObject({ ok: true, fromSize: 0 });

    clock = new Date("2026-11-25T10:40:00.000Z");
    await push(12);
    await vault.publishCheckpoints();
    const last = { treeSize: 30, rootHash: first.checkpoint?.checkpoint.root_hash as string };
    const second = await poll(30);
    expect(second.checkpoint).toMatchObject({ from_size: 30, checkpoint: { tree_size: 42 } });
    expect(verifyCheckpointDelivery(second.checkpoint, appliance(last)).ok).toBe(true);
    expect((await poll(42)).checkpoint).toBeUndefined();
  });

  it("seals closed hours into segments and archives them with retry and backoff", async () => {
    expect(await vault.sealSegments()).toBe(0); // the hour is still open
    clock = new Date("2026-11-25T11:00:05.000Z");
    await push(3); // received in the next hour: a second segment later
    expect(await vault.sealSegments()).toBe(1);
    failNextPuts = 1;
    const firstRun = await vault.drainOutbox();
    expect(firstRun.failed).toBe(1);
    const pending = (await h.store.listVaultObjects("clinic-v", "v-01")).filter(
      (o) => o.status === "pending",
    );
    const failed = pending.find((o) => o.attempts === 1);
    expect(failed?.lastError).toBe("archive unreachable");
    expect(Date.parse(failed?.nextAttemptAt ?? "")).toBeGreaterThan(clock.getTime());
    // The failed one is the oldest object (checkpoint 30); the segment 1..42 went through.
    expect(failed?.objectKey).toBe("clinic-v/v-01/checkpoints/0000000000000030.json");
    expect(await vault.archivedThrough("clinic-v", "v-01")).toBe(42);

    clock = new Date("2026-11-25T12:00:30.000Z");
    await vault.runOnce();
    const objects = await h.store.listVaultObjects("clinic-v", "v-01");
    expect(objects.every((o) => o.status === "archived")).toBe(true);
    expect(objects.map((o) => o.objectKey)).toEqual([
      "clinic-v/v-01/checkpoints/0000000000000030.json",
      "clinic-v/v-01/checkpoints/0000000000000042.json",
      "clinic-v/v-01/checkpoints/0000000000000045.json",
      "clinic-v/v-01/evidence/2026-11-25/100000-0000000000000001-0000000000000042.jsonl",
      "clinic-v/v-01/evidence/2026-11-25/110000-0000000000000043-0000000000000045.jsonl",
    ]);
    expect(await vault.archivedThrough("clinic-v", "v-01")).toBe(45);
    for (const o of objects) {
      const bytes = readFileSync(join(root, "archive", o.objectKey));
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(o.sha256);
      expect(o.archive).toBe("local-not-worm");
      // Six years out (2192 days), from the moment it was archived.
      expect(Date.parse(o.retainUntil ?? "") - Date.parse(o.archivedAt ?? "")).toBe(
        2192 * 86_400_000,
      );
    }
    const segment = readFileSync(join(root, "archive", objects[3]?.objectKey ?? ""), "utf8");
    expect(
      segment
        .split("\n")
        .filter(Boolean)
        .map((l) => bundleHash(JSON.parse(l))),
    ).toEqual(hashes.slice(0, 42));
    expect(readFileSync(join(root, "archive", "NOT-WORM.txt"), "utf8")).toMatch(/NOT WORM/);
  });

  it("builds each appliance's tree once when a poll and the job ask at the same time", async () => {
    const fresh = createVault(vaultOptions(h.store));
    const [a, b, c] = await Promise.all([
      fresh.treeFor("clinic-v", "v-01", 45),
      fresh.treeFor("clinic-v", "v-01", 30),
      fresh.treeFor("clinic-v", "v-01", 45),
    ]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(a.size).toBe(45);
    const latest = await h.store.latestCheckpoint("clinic-v", "v-01");
    expect(toHex(a.root(45))).toBe(latest?.rootHash);
    expect(() =>
      createVault({
        ...{
          store: h.store,
          signer: cpSigner,
          archive: flaky,
          logger: silentLogger,
          now: () => clock,
        },
        retentionDays: 2000,
        segmentSeconds: 3600,
      }),
    ).toThrow(/at least 2192/);
  });

  it("exports a site's date range through the admin API, which the offline verifier accepts", async () => {
    const base = "/tenants/clinic-v/appliances/v-01/exports";
    const res = await h.admin(base, { from: "2026-11-25T10:30:00Z", to: "2026-11-25T11:00:00Z" });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { export_id: string; manifest: Record<string, unknown> };
    // Bundles received 10:40 (31..42); the export ends at the checkpoint that covers 42.
    expect(created.manifest).toMatchObject({ first_seq: 31, last_seq: 42, checkpoint_count: 1 });
    const dir = join(root, "exports", "clinic-v", "v-01", created.export_id);
    exportDir = dir;
    const file = await h.admin(`${base}/${created.export_id}/manifest.json`);
    expect(file.status).toBe(200);
    expect(await file.json()).toEqual(created.manifest);
    for (const bad of [
      `${base}/${created.export_id}/..%2F..%2Fcp.sqlite`,
      `${base}/..%2F..%2F..%2F/manifest.json`,
      `${base}/${created.export_id}/secret-box.key`,
    ]) {
      expect((await h.admin(bad)).status).toBe(400);
    }
    const verifier = join(import.meta.dirname, "../../../verifier/main.ts");
    const pins = ["--control-plane-key-id", cpSigner.keyId, "--appliance-key-id", signer.keyId];
    const run = spawnSync(process.execPath, [verifier, dir, ...pins], { encoding: "utf8" });
    expect(run.stdout).toMatch(/^OK: /m);
    expect(run.stdout).not.toMatch(/UNPINNED/);
    expect(run.status).toBe(0);
    expect(existsSync(join(dir, "worm-objects.json"))).toBe(true);
    const audit = (await (await h.admin("/audit")).json()) as { action: string }[];
    expect(audit.map((e) => e.action)).toContain("evidence.exported");
  });

  it("lets an auditor read an export's files only if its range lies inside the auditor's window", async () => {
    const id = basename(exportDir);
    const path = `/v1/admin/tenants/clinic-v/appliances/v-01/exports/${id}/manifest.json`;
    const auditor = async (from: string, to: string) => {
      const token = randomBytes(32).toString("base64url");
      await h.store.addAdminToken(
        {
          tokenHash: sha256Hex(new TextEncoder().encode(token)),
          label: `auditor-${from}`,
          role: "auditor",
          scope: { tenants: ["clinic-v"], window: { from, to } },
        },
        clock.toISOString(),
      );
      return h.app.request(path, { headers: { authorization: `Bearer ${token}` } });
    };
    // The export covers 2026-11-25 10:30 to 11:00.
    expect((await auditor("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z")).status).toBe(200);
    expect((await auditor("2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z")).status).toBe(404);
    expect((await auditor("2026-11-25T10:45:00Z", "2026-11-26T00:00:00Z")).status).toBe(404);
    const audit = (await (await h.admin("/audit")).json()) as { action: string; detail: unknown }[];
    const denied = audit.filter((e) => e.action === "access.denied");
    expect(denied.length).toBeGreaterThanOrEqual(2);
  });

  it("the auditor's OpenSSL and coreutils commands in docs/auditor.md work as written", () => {
    const result = runAuditorDoc(exportDir, {
      APPLIANCE_KEY_ID: signer.keyId,
      CP_KEY_ID: cpSigner.keyId,
    });
    expect(result.stderr).not.toMatch(/error|fail/i);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/both keys match the pins/);
    expect(result.stdout.match(/Signature Verified Successfully/g)?.length).toBe(4);
    expect(result.stdout).toMatch(
      /bundle 42 is the newest leaf of the checkpoint, root [0-9a-f]{64}/,
    );
    expect(result.stdout).toMatch(
      /checkpoint 42 matches WORM object checkpoints\/0000000000000042.json/,
    );
    // Portable: coreutils and OpenSSL 3 only.
    expect(auditorDocBlocks().join("\n")).not.toMatch(/basenc|xxd|\bjq\b|python|node/);

    // The same commands refuse each tampered copy, and keys other than the pinned ones.
    const copy = (name: string, file: string, edit: (text: string) => string) => {
      const dir = join(root, `doc-${name}`);
      cpSync(exportDir, dir, { recursive: true });
      writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
      return dir;
    };
    const cases: [string, string, Record<string, string>][] = [
      [
        "bundle",
        copy("bundle", "bundles.jsonl", (t) => {
          const lines = t.split("\n");
          lines[11] = (lines[11] as string).replace('"severity":"low"', '"severity":"high"');
          return lines.join("\n");
        }),
        {},
      ],
      [
        "manifest",
        copy("manifest", "manifest.json", (t) => t.replace('"last_seq":42', '"last_seq":41')),
        {},
      ],
      [
        "worm list",
        copy("worm", "worm-objects.json", (t) =>
          t.replace(/"retain_until":"\d{4}/g, '"retain_until":"2027'),
        ),
        {},
      ],
      [
        "checkpoint",
        copy("checkpoint", "checkpoints.jsonl", (t) =>
          t.replace(/"issued_at":"\d{4}/, '"issued_at":"2025'),
        ),
        {},
      ],
      ["pins", exportDir, { APPLIANCE_KEY_ID: "0".repeat(64) }],
      ["control-plane pin", exportDir, { CP_KEY_ID: "0".repeat(64) }],
    ];
    for (const [what, dir, pins] of cases) {
      const refused = runAuditorDoc(dir, {
        APPLIANCE_KEY_ID: signer.keyId,
        CP_KEY_ID: cpSigner.keyId,
        ...pins,
      });
      expect(refused.status, what).not.toBe(0);
      expect(`${refused.stdout}${refused.stderr}`, what).toMatch(
        /FAILED|Signature Verification Failure/,
      );
    }
  });

  it("states in the packet the witness cosignatures the export carries: the stored ones, not what bundles claim", async () => {
    const witness = async (cosigner: typeof signer) => {
      const cp = await h.store.latestCheckpoint("clinic-v", "v-01");
      if (!cp) throw new Error("no checkpoint");
      const signed = {
        tenant_id: "clinic-v",
        appliance_id: "v-01",
        tree_size: cp.treeSize,
        root_hash: cp.rootHash,
      };
      const sealed = sealBundle(
        {
          tenant_id: "clinic-v",
          appliance_id: "v-01",
          recorded_at: clock.toISOString(),
          event: {
            kind: "checkpoint_verified",
            tree_size: cp.treeSize,
            root_hash: cp.rootHash,
            issued_at: cp.issuedAt,
            from_size: 0,
            cosignature: cosignCheckpoint(signed, cosigner, Math.floor(clock.getTime() / 1000)),
          },
        },
        head,
        signer,
      );
      const res = await call("/v1/appliance/evidence", upload("clinic-v", "v-01", [sealed.bundle]));
      expect(res.status).toBe(200);
      hashes.push(sealed.head.hash);
      head = sealed.head;
      return cp.treeSize;
    };
    const packet = async () =>
      (
        await gatherPacket(
          {
            store: h.store,
            signer: h.signer,
            catalogDir: join(import.meta.dirname, "../../.."),
            archiveKind: "local-not-worm",
            now: () => clock,
          },
          "clinic-v",
          "2026-11",
        )
      ).integrity[0];

    // A bundle whose cosignature is by another key is stored (its own signature is good), but
    // the cosignature is not kept: the packet says the checkpoint is not cosigned.
    clock = new Date("2026-11-25T12:10:00.000Z");
    expect(await witness(createSigner(generateEd25519KeyPair().privateKey))).toBe(45);
    const alerts = await h.store.listAlerts("clinic-v");
    expect(alerts.map((a) => a.code)).toContain("cosignature_bad_signature");
    expect(await packet()).toMatchObject({ checkpointTreeSize: 45, checkpointCosigned: false });

    // The appliance's own cosignature of the newest checkpoint: kept, stated, exported.
    expect(await vault.publishCheckpoints()).toBe(1);
    expect(await witness(signer)).toBe(46);
    expect(await packet()).toMatchObject({ checkpointTreeSize: 46, checkpointCosigned: true });
    const stored = await h.store.listCosignatures("clinic-v", "v-01", 46, 46);
    expect(stored.map((c) => [c.evidenceSeq, c.rootHash])).toEqual([
      [47, (await h.store.latestCheckpoint("clinic-v", "v-01"))?.rootHash],
    ]);
    const res = await h.admin("/tenants/clinic-v/appliances/v-01/exports", {
      from: "2026-11-25T12:05:00Z",
      to: "2026-11-25T12:15:00Z",
    });
    expect(res.status).toBe(201);
    const { export_id: id } = (await res.json()) as { export_id: string };
    const dir = join(root, "exports", "clinic-v", "v-01", id);
    const lines = readFileSync(join(dir, "cosignatures.jsonl"), "utf8").split("\n").filter(Boolean);
    expect(lines.map((l) => JSON.parse(l))).toContainEqual({
      seq: 47,
      tree_size: 46,
      root_hash: stored[0]?.rootHash,
      cosignature: stored[0]?.cosignature,
    });
  });
});
