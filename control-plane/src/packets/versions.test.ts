import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSigner, generateEd25519KeyPair, sha256Hex } from "#protocol";
import { openPostgresStore, openSqliteStore, type Store } from "../store/index.ts";
import {
  createTestSchema,
  postgresReachable,
  TEST_DATABASE_URL,
} from "../store/postgres/test-database.ts";
import { REPO_ROOT } from "../testing/planner-world.ts";
import { generatePacket, type PacketManifest, packetDir } from "./index.ts";

/**
 * Versions of one month's packet made at the same instant, on the embedded store (one SQLite
 * connection) and on PostgreSQL (several pools, as several control-plane instances): each gets
 * its own number, none is lost, and each manifest names the hash of the one before.
 */
const pgReady = await postgresReachable();
const TENANT = "clinic-a";
const MONTH = "2026-10";
const CONCURRENT = 6;
const tmp = mkdtempSync(join(tmpdir(), "cp-packet-versions-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function stores(kind: "sqlite" | "postgres") {
  if (kind === "postgres") {
    const { schema, drop } = await createTestSchema();
    const all = Array.from({ length: 3 }, () =>
      openPostgresStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 2 }),
    );
    return {
      all,
      close: async () => {
        for (const s of all) await s.close();
        await drop();
      },
    };
  }
  const one = openSqliteStore(join(tmp, `${kind}-${Date.now()}.sqlite`));
  return { all: [one], close: () => one.close() };
}

const deps = (store: Store, packetsDir: string) => ({
  store,
  signer,
  catalogDir: REPO_ROOT,
  packetsDir,
  archiveKind: "local-not-worm",
  now: () => new Date("2026-11-20T00:00:00.000Z"),
});
const signer = createSigner(generateEd25519KeyPair().privateKey);

async function migrated(store: Store): Promise<void> {
  await store.migrate();
  await store.upsertTenant({
    tenantId: TENANT,
    caCertPem: "ca",
    caKeySealed: "sealed",
    retentionDays: 2192,
  });
}

describe.each(["sqlite", "postgres"] as const)("packet versions on %s", (kind) => {
  it.skipIf(kind === "postgres" && !pgReady)(
    "concurrent regenerations take distinct numbers, none lost, each linked to the one before",
    async () => {
      const { all, close } = await stores(kind);
      const packetsDir = join(tmp, `packets-${kind}`);
      try {
        const first = all[0] as Store;
        await migrated(first);
        const v1 = await generatePacket(deps(first, packetsDir), TENANT, MONTH, {
          requestedBy: "alice",
        });
        const v1Bytes = readFileSync(join(v1.dir, "packet.pdf"));
        // Without a reason, a second version is refused, naming the field.
        await expect(
          generatePacket(deps(first, packetsDir), TENANT, MONTH, { requestedBy: "bob" }),
        ).rejects.toThrow(/^reason: required/);

        const made = await Promise.all(
          Array.from({ length: CONCURRENT }, (_, i) =>
            generatePacket(deps(all[i % all.length] as Store, packetsDir), TENANT, MONTH, {
              requestedBy: `op-${i}`,
              reason: `correction ${i}`,
            }),
          ),
        );
        const versions = made.map((m) => m.record.version).sort((a, b) => a - b);
        expect(versions).toEqual(Array.from({ length: CONCURRENT }, (_, i) => i + 2));

        const listed = await first.listPackets(TENANT);
        expect(listed.map((p) => p.version)).toEqual(
          Array.from({ length: CONCURRENT + 1 }, (_, i) => CONCURRENT + 1 - i),
        );
        // Each version's files are its own, and its manifest names the previous one's hash.
        for (const p of listed) {
          const dir = packetDir(packetsDir, TENANT, MONTH, p.version);
          const file = readFileSync(join(dir, "manifest.json"));
          expect(sha256Hex(file)).toBe(p.manifestSha256);
          const manifest = JSON.parse(file.toString("utf8")) as PacketManifest;
          expect(manifest.version).toBe(p.version);
          const before = listed.find((q) => q.version === p.version - 1);
          expect(manifest.previous_manifest_sha256).toBe(before?.manifestSha256 ?? null);
        }
        expect(readFileSync(join(v1.dir, "packet.pdf")).equals(v1Bytes)).toBe(true);
      } finally {
        await close();
      }
    },
    120_000,
  );
});

it("links version 2 to a packet made before versions, left in the month's folder", async () => {
  const store = openSqliteStore(join(tmp, "legacy.sqlite"));
  const packetsDir = join(tmp, "packets-legacy");
  try {
    await migrated(store);
    const monthDir = join(packetsDir, TENANT, MONTH);
    mkdirSync(monthDir, { recursive: true });
    writeFileSync(join(monthDir, "manifest.json"), '{"v":1}\n');
    await store.addPacketVersion({
      tenantId: TENANT,
      month: MONTH,
      version: 1,
      generatedAt: "2026-11-01T00:00:00.000Z",
      requestedBy: "unrecorded",
      reason: null,
      manifestSha256: null,
      previousManifestSha256: null,
      files: {},
      counts: {},
    });
    expect(packetDir(packetsDir, TENANT, MONTH, 1)).toBe(monthDir);
    const v2 = await generatePacket(deps(store, packetsDir), TENANT, MONTH, {
      requestedBy: "alice",
      reason: "regenerated after the upgrade",
    });
    expect(v2.dir).toBe(join(monthDir, "v2"));
    expect(v2.manifest.previous_manifest_sha256).toBe(sha256Hex(Buffer.from('{"v":1}\n')));
  } finally {
    await store.close();
  }
});
