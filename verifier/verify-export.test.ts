import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleHash,
  bundleLeafHash,
  checkpointDelivery,
  EXPORT_FILES,
  MerkleTree,
  sha256Hex,
  signCheckpoint,
} from "../protocol/index.ts";
import { type SyntheticExport, writeSyntheticExport } from "./testing/synthetic-export.ts";
import { verifyExport } from "./verify-export.ts";

const root = mkdtempSync(join(tmpdir(), "verify-export-"));
let clean: SyntheticExport;
let copies = 0;

/** A copy of the clean export with one file changed by `edit`. */
function tampered(file: string, edit: (text: string) => string): string {
  const dir = join(root, `copy-${++copies}`);
  cpSync(clean.directory, dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, edit(readFileSync(path, "utf8")));
  return dir;
}
const lines = (text: string) => text.split("\n").filter(Boolean);
const join_ = (ls: string[]) => `${ls.join("\n")}\n`;

beforeAll(() => {
  clean = writeSyntheticExport({
    directory: join(root, "clean"),
    bundles: 120,
    checkpointEvery: 25,
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the offline export verifier", () => {
  it("accepts a clean export, in this thread and in worker threads, and counts what it checked", async () => {
    for (const workers of [0, 2]) {
      const summary = await verifyExport(clean.directory, { workers });
      expect(summary).toMatchObject({
        ok: true,
        bundles: 120,
        signatures_verified: 120,
        chain_links_verified: 120,
        checkpoints: 5,
        checkpoints_verified: 5,
        roots_recomputed: 5,
        consistency_proofs_verified: 4,
        inclusion_proofs_verified: 5,
        appliance_seen_checkpoints_matched: 4,
        worm_objects_matched: 10,
        worm_objects_archived: 10,
      });
      expect(summary.first_failure).toBeUndefined();
    }
  });

  it("accepts an export that starts mid-log, from the prefix frontier", async () => {
    const partial = writeSyntheticExport({
      directory: join(root, "partial"),
      bundles: 90,
      checkpointEvery: 20,
      firstSeq: 37,
    });
    const summary = await verifyExport(partial.directory, { workers: 0 });
    expect(summary).toMatchObject({ ok: true, bundles: 54, checkpoints_verified: 4 });
  });

  const reasonOf = async (dir: string) => (await verifyExport(dir, { workers: 0 })).first_failure;

  it("catches a changed byte", async () => {
    const dir = tampered(EXPORT_FILES.bundles, (t) => {
      const ls = lines(t);
      ls[40] = (ls[40] as string).replace(
        '"recorded_at":"2026-11-01T00:06',
        '"recorded_at":"2026-11-01T00:07',
      );
      return join_(ls);
    });
    expect(await reasonOf(dir)).toMatchObject({ reason: "bad_signature", line: 41, seq: 41 });
  });

  it("catches a removed bundle, in the middle and at the end", async () => {
    const middle = tampered(EXPORT_FILES.bundles, (t) =>
      join_(lines(t).filter((_, i) => i !== 60)),
    );
    expect(await reasonOf(middle)).toMatchObject({ reason: "sequence_gap", seq: 62 });
    const tail = tampered(EXPORT_FILES.bundles, (t) => join_(lines(t).slice(0, -1)));
    expect(await reasonOf(tail)).toMatchObject({ reason: "truncated" });
  });

  it("catches reordered bundles", async () => {
    const dir = tampered(EXPORT_FILES.bundles, (t) => {
      const ls = lines(t);
      [ls[10], ls[11]] = [ls[11] as string, ls[10] as string];
      return join_(ls);
    });
    expect(await reasonOf(dir)).toMatchObject({ reason: "reorder", line: 11, seq: 12 });
  });

  it("catches a forged checkpoint", async () => {
    const dir = tampered(EXPORT_FILES.checkpoints, (t) => {
      const ls = lines(t);
      const line = JSON.parse(ls[2] as string);
      line.checkpoint.root_hash = sha256Hex(new Uint8Array([1]));
      ls[2] = JSON.stringify(line);
      return join_(ls);
    });
    expect(await reasonOf(dir)).toMatchObject({ reason: "checkpoint_bad_signature", line: 3 });
  });

  it("catches a checkpoint, validly signed, that is inconsistent with an earlier one", async () => {
    // The control-plane key signs a history in which bundle 30 was rewritten.
    const bundles = lines(readFileSync(join(clean.directory, EXPORT_FILES.bundles), "utf8"));
    const forged = new MerkleTree();
    for (const [i, text] of bundles.entries()) {
      const hash = i === 29 ? sha256Hex(new Uint8Array([7])) : bundleHash(JSON.parse(text));
      forged.append(bundleLeafHash(hash));
    }
    const dir = tampered(EXPORT_FILES.checkpoints, (t) => {
      const ls = lines(t);
      const cp = signCheckpoint(
        {
          tenantId: clean.tenantId,
          applianceId: clean.applianceId,
          treeSize: 75,
          root: forged.root(75),
          issuedAt: "2026-11-02T00:00:00Z",
        },
        clean.controlPlane,
      );
      ls[2] = JSON.stringify(checkpointDelivery(cp, forged, 50));
      return join_(ls);
    });
    expect(await reasonOf(dir)).toMatchObject({ reason: "checkpoint_inconsistent", line: 3 });
  });

  it("catches a split view: the appliance verified another root than the export shows", async () => {
    const split = writeSyntheticExport({
      directory: join(root, "split"),
      bundles: 60,
      checkpointEvery: 20,
      splitViewAt: 41,
    });
    expect(await reasonOf(split.directory)).toMatchObject({ reason: "split_view", seq: 41 });
  });

  it("catches a changed manifest and a swapped key", async () => {
    const manifest = tampered(EXPORT_FILES.manifest, (t) =>
      t.replace('"first_seq": 1', '"first_seq": 2'),
    );
    expect(await reasonOf(manifest)).toMatchObject({ reason: "manifest_bad_signature" });
    const key = tampered(EXPORT_FILES.applianceKey, () =>
      readFileSync(join(clean.directory, EXPORT_FILES.controlPlaneKey), "utf8"),
    );
    expect(await reasonOf(key)).toMatchObject({ reason: "key_mismatch" });
  });

  it("catches exported bytes that differ from what was archived in WORM storage", async () => {
    const dir = tampered(EXPORT_FILES.wormObjects, (t) => {
      const objects = JSON.parse(t) as { kind: string; sha256: string }[];
      const segment = objects.find((o) => o.kind === "segment");
      if (segment) segment.sha256 = "0".repeat(64);
      return JSON.stringify(objects);
    });
    expect(await reasonOf(dir)).toMatchObject({
      reason: "worm_mismatch",
      file: "worm-objects.json",
    });
  });

  it("runs as a CLI: exit 0 with a summary, exit 1 naming the first failure", () => {
    const cli = (dir: string) =>
      spawnSync(process.execPath, [join(import.meta.dirname, "main.ts"), dir], {
        encoding: "utf8",
      });
    const ok = cli(clean.directory);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/signatures verified 120/);
    expect(ok.stdout).toMatch(/^OK: /m);
    const bad = tampered(EXPORT_FILES.bundles, (t) => join_(lines(t).filter((_, i) => i !== 5)));
    const failed = cli(bad);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/FAILED: sequence_gap in bundles.jsonl line 6 \(seq 7\)/);
  });
});
