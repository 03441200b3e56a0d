import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type ChainHead,
  createSigner,
  GENESIS_HEAD,
  generateEd25519KeyPair,
  type Signer,
} from "#protocol";
import { openSqliteStore } from "../store/index.ts";
import { createHarness, type Harness } from "../testing/harness.ts";
import { type asAppliance, chain, enrolledAppliance, upload } from "../testing/in-process.ts";
import { REPO_ROOT } from "../testing/planner-world.ts";
import { packetBlocks } from "./document.ts";
import { gatherPacket } from "./gather.ts";

/**
 * The packet's incremental verification over a real SQLite store fed through the real evidence
 * route: a second packet verifies only the bundles after the head the first one stored, and a
 * bundle changed in the database, after the head or before it, still reads as a broken chain.
 */
const root = mkdtempSync(join(tmpdir(), "cp-chain-scan-"));
const file = join(root, "cp.sqlite");
const clock = new Date("2026-11-20T12:00:00.000Z");
let h: Harness;
let call: ReturnType<typeof asAppliance>;
let signer: Signer;
let head: ChainHead = GENESIS_HEAD;

beforeAll(async () => {
  h = await createHarness(openSqliteStore(file), { clock: () => clock });
  ({ call, signer } = await enrolledAppliance(h, "clinic-s", "s-01"));
});
afterAll(async () => {
  await h.store.close();
  rmSync(root, { recursive: true, force: true });
});

async function push(count: number) {
  const next = chain(signer, "clinic-s", "s-01", count, head, () => clock.toISOString());
  const res = await call("/v1/appliance/evidence", upload("clinic-s", "s-01", next.bundles));
  expect(res.status).toBe(200);
  head = next.head;
}

const gathered = (cpSigner = h.signer) =>
  gatherPacket(
    {
      store: h.store,
      signer: cpSigner,
      catalogDir: REPO_ROOT,
      archiveKind: "local-not-worm",
      now: () => clock,
    },
    "clinic-s",
    "2026-11",
  );
const packet = async (cpSigner = h.signer) => (await gathered(cpSigner)).integrity[0];

it("verifies in full only what is newer than the stored head, and moves the head", async () => {
  await push(40);
  const first = await packet();
  expect(first).toMatchObject({ chainVerified: true, chainHeadSeq: 40 });
  expect(first?.chainDetail).toBe("40 bundles verified from genesis");
  expect((await h.store.getVerifiedHead("clinic-s", "s-01"))?.seq).toBe(40);

  await push(10);
  const second = await packet();
  expect(second).toMatchObject({ chainVerified: true, chainHeadSeq: 50, bundlesInMonth: 50 });
  expect(second?.chainDetail).toMatch(/^50 bundles: 10 verified in full now; seq 1\.\.40/);
  expect((await h.store.getVerifiedHead("clinic-s", "s-01"))?.seq).toBe(50);
});

it("says the chain is broken when a bundle after the verified head was changed", async () => {
  await push(5); // 51..55, after the head at 50
  const db = new DatabaseSync(file);
  const original = (
    db
      .prepare("select bundle_json from evidence where appliance_id = 's-01' and seq = 53")
      .get() as {
      bundle_json: string;
    }
  ).bundle_json;
  const set = (json: string) =>
    db
      .prepare("update evidence set bundle_json = ? where appliance_id = 's-01' and seq = 53")
      .run(json);
  try {
    set(original.replace('"event 53"', '"event 99"'));
    const broken = await packet();
    expect(broken).toMatchObject({ chainVerified: false, endOfPeriod: [] });
    expect(broken?.chainDetail).toBe("BROKEN at seq 53: bad_signature");
    // The head does not move past a break.
    expect((await h.store.getVerifiedHead("clinic-s", "s-01"))?.seq).toBe(50);
    set(original);
    expect(await packet()).toMatchObject({ chainVerified: true, chainHeadSeq: 55 });
  } finally {
    db.close();
  }
});

it("says the chain is broken when a bundle before the verified head was changed", async () => {
  const db = new DatabaseSync(file);
  const original = (
    db
      .prepare("select bundle_json from evidence where appliance_id = 's-01' and seq = 7")
      .get() as {
      bundle_json: string;
    }
  ).bundle_json;
  try {
    db.prepare("update evidence set bundle_json = ? where appliance_id = 's-01' and seq = 7").run(
      original.replace('"event 7"', '"event 77"'),
    );
    const data = await gathered();
    const broken = data.integrity[0];
    expect(broken).toMatchObject({ chainVerified: false });
    expect(broken?.chainDetail).toMatch(/^BROKEN at seq 8: wrong_prev_hash/);
    // The packet's summary does not claim the chains verified over it.
    expect(chainsVerifiedCell(data)).toBe("NOT ALL: see integrity");
  } finally {
    db.prepare("update evidence set bundle_json = ? where appliance_id = 's-01' and seq = 7").run(
      original,
    );
    db.close();
  }
});

/** The summary's "Evidence chains verified" cell of a packet. */
function chainsVerifiedCell(data: Awaited<ReturnType<typeof gathered>>): string | undefined {
  for (const block of packetBlocks(data)) {
    if (block.kind !== "table") continue;
    const row = block.rows.find((r) => r[0] === "Evidence chains verified");
    if (row) return row[1];
  }
  return undefined;
}

it("does not believe a stored head that the control plane did not sign", async () => {
  // Another key's head (or one written into the database by hand) is ignored: all is verified again.
  const other = createSigner(generateEd25519KeyPair().privateKey);
  const again = await gathered(other);
  expect(again.integrity[0]?.chainDetail).toBe("55 bundles verified from genesis");
  expect(chainsVerifiedCell(again)).toBe("all");
});
