import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleHash,
  bundleLeafHash,
  canonicalize,
  checkpointDelivery,
  cosignCheckpoint,
  EXPORT_FILES,
  ExportManifest,
  MerkleTree,
  SignedWormObjectList,
  sha256Hex,
  signCheckpoint,
  signDocument,
} from "../protocol/index.ts";
import type { Pins } from "./pins.ts";
import { type SyntheticExport, writeSyntheticExport } from "./testing/synthetic-export.ts";
import { type VerifyOptions, verifyExport } from "./verify-export.ts";

const root = mkdtempSync(join(tmpdir(), "verify-export-"));
let clean: SyntheticExport;
let pins: Pins;
let copies = 0;

/** A copy of the clean export with one file changed by `edit`. */
function tampered(file: string, edit: (text: string) => string, from = clean.directory): string {
  const dir = join(root, `copy-${++copies}`);
  cpSync(from, dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, edit(readFileSync(path, "utf8")));
  return dir;
}
const lines = (text: string) => text.split("\n").filter(Boolean);
const join_ = (ls: string[]) => `${ls.join("\n")}\n`;
const editLine = (i: number, edit: (line: string) => string) => (t: string) => {
  const ls = lines(t);
  ls[i] = edit(ls[i] as string);
  return join_(ls);
};
const pinsOf = (e: SyntheticExport): Pins => ({
  controlPlaneKeyIds: [e.controlPlane.keyId],
  appliances: [{ tenantId: e.tenantId, applianceId: e.applianceId, keyId: e.appliance.keyId }],
});

beforeAll(() => {
  clean = writeSyntheticExport({
    directory: join(root, "clean"),
    bundles: 120,
    checkpointEvery: 25,
  });
  pins = pinsOf(clean);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const verify = (dir: string, options: VerifyOptions = {}) =>
  verifyExport(dir, { workers: 0, pins, ...options });
const reasonOf = async (dir: string, options: VerifyOptions = {}) =>
  (await verify(dir, options)).first_failure;
/** The first failure of a small synthetic export written with `options`, against its own pins. */
const variantReason = async (
  name: string,
  options: Omit<Parameters<typeof writeSyntheticExport>[0], "directory">,
) => {
  const variant = writeSyntheticExport({ directory: join(root, name), ...options });
  return reasonOf(variant.directory, { pins: pinsOf(variant) });
};

describe("the offline export verifier", () => {
  it("accepts a clean export against its pins, in this thread and in worker threads", async () => {
    for (const workers of [0, 2]) {
      const summary = await verify(clean.directory, { workers });
      expect(summary).toMatchObject({
        ok: true,
        pins: { control_plane: "pinned", appliance: "pinned" },
        range_basis: "received_at",
        bundles: 120,
        signatures_verified: 120,
        chain_links_verified: 120,
        enrollment_statement_verified: true,
        checkpoints: 5,
        checkpoints_verified: 5,
        roots_recomputed: 5,
        consistency_proofs_verified: 4,
        inclusion_proofs_verified: 5,
        appliance_seen_checkpoints_matched: 4,
        cosignatures_verified: 4,
        stored_cosignatures_verified: 5,
        checkpoints_cosigned: 5,
        last_checkpoint_cosigned: true,
        worm_objects_matched: 10,
        worm_objects_archived: 10,
        not_archived: [],
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
    const summary = await verify(partial.directory, { pins: pinsOf(partial) });
    expect(summary).toMatchObject({
      ok: true,
      bundles: 54,
      checkpoints_verified: 4,
      enrollment_statement_verified: false,
    });
  });

  it("catches a changed byte", async () => {
    const dir = tampered(
      EXPORT_FILES.bundles,
      editLine(40, (l) =>
        l.replace('"recorded_at":"2026-11-01T00:06', '"recorded_at":"2026-11-01T00:07'),
      ),
    );
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
    const dir = tampered(
      EXPORT_FILES.checkpoints,
      editLine(2, (l) => {
        const line = JSON.parse(l);
        line.checkpoint.root_hash = sha256Hex(new Uint8Array([1]));
        return JSON.stringify(line);
      }),
    );
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

  it("catches a validly signed bundle whose prev_hash is not the previous bundle's hash", async () => {
    // Signatures, checkpoints, roots and WORM objects are all of the bundles as written: only
    // the hash link is broken, so nothing but the chain step can refuse it.
    expect(
      await variantReason("broken-link", { bundles: 60, checkpointEvery: 20, brokenLinkAt: 33 }),
    ).toMatchObject({ reason: "wrong_prev_hash", line: 33, seq: 33 });
  });

  it("catches a split view: the appliance verified another root than the export shows", async () => {
    expect(
      await variantReason("split", {
        bundles: 60,
        checkpointEvery: 20,
        splitViewAt: 41,
      }),
    ).toMatchObject({
      reason: "split_view",
      seq: 41,
    });
  });

  it("catches a changed manifest and a swapped key", async () => {
    const manifest = tampered(EXPORT_FILES.manifest, (t) =>
      t.replace('"first_seq":1,', '"first_seq":2,'),
    );
    expect(await reasonOf(manifest)).toMatchObject({ reason: "manifest_bad_signature" });
    const key = tampered(EXPORT_FILES.applianceKey, () =>
      readFileSync(join(clean.directory, EXPORT_FILES.controlPlaneKey), "utf8"),
    );
    expect(await reasonOf(key)).toMatchObject({ reason: "key_mismatch" });
  });

  it("catches exported bytes that differ from what was archived in WORM storage", async () => {
    const list = JSON.parse(
      readFileSync(join(clean.directory, EXPORT_FILES.wormObjects), "utf8"),
    ) as SignedWormObjectList;
    const segment = list.objects.find((o) => o.kind === "segment");
    if (segment) segment.sha256 = "0".repeat(64);
    const dir = tampered(EXPORT_FILES.wormObjects, () =>
      JSON.stringify(
        signDocument<SignedWormObjectList>(SignedWormObjectList, list, clean.controlPlane),
      ),
    );
    expect(await reasonOf(dir)).toMatchObject({
      reason: "worm_mismatch",
      file: "worm-objects.json",
    });
  });
});

describe("trust roots outside the export", () => {
  it("without pins: checks everything, then refuses to call it verified unless allowed", async () => {
    const unpinned = await verifyExport(clean.directory, { workers: 0 });
    expect(unpinned).toMatchObject({
      ok: false,
      pins: { control_plane: "unpinned", appliance: "unpinned" },
      signatures_verified: 120,
      first_failure: { reason: "unpinned" },
    });
    const allowed = await verifyExport(clean.directory, { workers: 0, allowUnpinned: true });
    expect(allowed).toMatchObject({ ok: true, pins: { appliance: "unpinned" } });
    // One pin is not enough: the other key could be anyone's.
    const half = await verifyExport(clean.directory, {
      workers: 0,
      pins: { controlPlaneKeyIds: pins.controlPlaneKeyIds, appliances: [] },
    });
    expect(half.first_failure).toMatchObject({
      reason: "unpinned",
      detail: expect.stringMatching(/the appliance key/),
    });
  });

  it("fails an export re-signed end to end with other keys", async () => {
    const resigned = writeSyntheticExport({
      directory: join(root, "resigned"),
      bundles: 120,
      checkpointEvery: 25,
    });
    expect(await reasonOf(resigned.directory)).toMatchObject({
      reason: "pin_mismatch",
      file: EXPORT_FILES.controlPlaneKey,
    });
  });

  it("fails a history fabricated with the real control-plane key and a new appliance key", async () => {
    const fabricated = writeSyntheticExport({
      directory: join(root, "fabricated"),
      bundles: 120,
      checkpointEvery: 25,
      controlPlane: clean.controlPlane,
    });
    // Internally consistent: it verifies against the keys it carries...
    expect((await verifyExport(fabricated.directory, { workers: 0, allowUnpinned: true })).ok).toBe(
      true,
    );
    // ...but not against the auditor's pin of the appliance key.
    const failure = await reasonOf(fabricated.directory);
    expect(failure).toMatchObject({ reason: "pin_mismatch", file: EXPORT_FILES.applianceKey });
    expect(failure?.detail).toContain(fabricated.appliance.keyId);
    expect(failure?.detail).toContain(clean.appliance.keyId);
  });

  it("checks the enrollment statement that opens the chain", async () => {
    expect(
      await variantReason("no-statement", {
        bundles: 30,
        checkpointEvery: 10,
        enrollment: "none",
      }),
    ).toMatchObject({
      reason: "enrollment_statement_missing",
      seq: 1,
    });
    // The appliance pinned another control-plane key at enrollment than the one that signs here.
    expect(
      await variantReason("other-cp", {
        bundles: 30,
        checkpointEvery: 10,
        enrollment: { controlPlaneKeyId: "e".repeat(64) },
      }),
    ).toMatchObject({
      reason: "key_mismatch",
      seq: 1,
      detail: expect.stringMatching(/pinned control-plane key e{64} at enrollment/),
    });
  });
});

describe("what verified before and no longer does", () => {
  it("leading checkpoints removed: the signed checkpoint_count no longer matches", async () => {
    const dir = tampered(EXPORT_FILES.checkpoints, (t) => join_(lines(t).slice(2)));
    expect(await reasonOf(dir)).toMatchObject({
      reason: "count_mismatch",
      file: "checkpoints.jsonl",
    });
  });

  it("a manifest whose signed bundle_count differs from the bundles", async () => {
    const manifest = JSON.parse(
      readFileSync(join(clean.directory, EXPORT_FILES.manifest), "utf8"),
    ) as ExportManifest;
    const { sig: _sig, ...unsigned } = manifest;
    const dir = tampered(EXPORT_FILES.manifest, () =>
      JSON.stringify(
        signDocument<ExportManifest>(
          ExportManifest,
          { ...unsigned, bundle_count: 119 },
          clean.controlPlane,
        ),
      ),
    );
    expect(await reasonOf(dir)).toMatchObject({ reason: "count_mismatch", file: "bundles.jsonl" });
  });

  it("the WORM list: unsigned, edited, emptied", async () => {
    const list = JSON.parse(
      readFileSync(join(clean.directory, EXPORT_FILES.wormObjects), "utf8"),
    ) as SignedWormObjectList;
    const bare = tampered(EXPORT_FILES.wormObjects, () => JSON.stringify([]));
    expect(await reasonOf(bare)).toMatchObject({ reason: "worm_list_malformed" });
    const edited = tampered(EXPORT_FILES.wormObjects, (t) =>
      t.replace(/"retain_until":"2032/, '"retain_until":"2027'),
    );
    expect(await reasonOf(edited)).toMatchObject({ reason: "worm_list_bad_signature" });
    const emptied = tampered(EXPORT_FILES.wormObjects, () =>
      JSON.stringify({ ...list, objects: [], sig: list.sig }),
    );
    expect(await reasonOf(emptied)).toMatchObject({ reason: "worm_list_bad_signature" });
    // Even emptied and re-signed by the real key: nothing of the export is archived. The lab's
    // local archive says so; a production archive fails.
    const { sig: _sig, ...unsigned } = list;
    const resigned = tampered(EXPORT_FILES.wormObjects, () =>
      JSON.stringify(
        signDocument<SignedWormObjectList>(
          SignedWormObjectList,
          { ...unsigned, objects: [] },
          clean.controlPlane,
        ),
      ),
    );
    const lab = await verify(resigned);
    expect(lab).toMatchObject({
      ok: true,
      not_archived: expect.arrayContaining(["bundles 1..120"]),
    });
    expect(
      await variantReason("s3-partial", {
        bundles: 60,
        checkpointEvery: 20,
        archive: "s3",
        archivedThrough: 40,
      }),
    ).toMatchObject({
      reason: "not_archived",
      detail: expect.stringMatching(/bundles 41\.\.60/),
    });
  });

  it("bundle lines that are not the exact canonical bytes", async () => {
    const variants: [string, (l: string) => string][] = [
      [
        "a duplicate key",
        (l) => l.replace('{"appliance_id":', '{"appliance_id":"x","appliance_id":'),
      ],
      ["a second sig", (l) => l.replace('"sig":{', '"sig":{"alg":"Ed25519"},"sig":{')],
      [
        "reordered keys",
        (l) =>
          canonicalize(JSON.parse(l)).replace(
            /^\{("appliance_id":"[^"]*"),("event":\{.*?\}),/,
            "{$2,$1,",
          ),
      ],
      ["CRLF", (l) => `${l}\r`],
      ["whitespace", (l) => l.replace('"seq":', '"seq": ')],
      ["an escape a canonical form avoids", (l) => l.replace('"clinic-a"', '"\\u0063linic-a"')],
      ["an own __proto__", (l) => l.replace('"event":{', '"event":{"__proto__":{},')],
    ];
    for (const [what, edit] of variants) {
      const dir = tampered(EXPORT_FILES.bundles, editLine(4, edit));
      expect(await reasonOf(dir), what).toMatchObject({ reason: "not_canonical", line: 5 });
    }
  });

  it("the appliance's own alert that it refused a rolled-back checkpoint", async () => {
    expect(
      await variantReason("refused", {
        bundles: 60,
        checkpointEvery: 20,
        refusedAt: 33,
      }),
    ).toMatchObject({
      reason: "appliance_refused_checkpoint",
      seq: 33,
    });
  });

  it("a witness cosignature that does not verify with the appliance key", async () => {
    expect(
      await variantReason("bad-cosignature", {
        bundles: 60,
        checkpointEvery: 20,
        badCosignatureAt: 41,
      }),
    ).toMatchObject({
      reason: "cosignature_bad_signature",
      seq: 41,
    });
  });
});

describe("the witness cosignatures the control plane stored (cosignatures.jsonl)", () => {
  const file = EXPORT_FILES.cosignatures;
  const reasonIn = async (dir: string) => reasonOf(dir, { pins });
  const cosignLine = (seq: number, treeSize: number, root: string, signer = clean.appliance) =>
    canonicalize({
      seq,
      tree_size: treeSize,
      root_hash: root,
      cosignature: cosignCheckpoint(
        {
          tenant_id: clean.tenantId,
          appliance_id: clean.applianceId,
          tree_size: treeSize,
          root_hash: root,
        },
        signer,
        1_800_000_000,
      ),
    });
  const last = (t: string) => JSON.parse(lines(t).at(-1) as string);

  it("carries the cosignature of the last checkpoint, which a later bundle holds", async () => {
    const text = readFileSync(join(clean.directory, file), "utf8");
    expect(last(text)).toMatchObject({ seq: 121, tree_size: 120 });
    const without = writeSyntheticExport({
      directory: join(root, "no-last-cosignature"),
      bundles: 120,
      checkpointEvery: 25,
      cosignLast: false,
    });
    const summary = await verify(without.directory, { pins: pinsOf(without) });
    expect(summary).toMatchObject({ ok: true, last_checkpoint_cosigned: false });
  });

  it("fails a list missing a cosignature a bundle carries, or differing from it", async () => {
    expect(await reasonIn(tampered(file, (t) => join_(lines(t).slice(1))))).toMatchObject({
      reason: "cosignature_mismatch",
      seq: 26,
    });
    const other = (t: string) => {
      const ls = lines(t);
      const first = JSON.parse(ls[0] as string);
      ls[0] = cosignLine(first.seq, first.tree_size, first.root_hash);
      return join_(ls);
    };
    // Another valid cosignature (other timestamp) than the one in bundle 26.
    expect(await reasonIn(tampered(file, other))).toMatchObject({ reason: "cosignature_mismatch" });
  });

  it("fails a cosignature by another key, of another root, or not canonical", async () => {
    const lastRoot = (t: string) => last(t).root_hash as string;
    const text = readFileSync(join(clean.directory, file), "utf8");
    const forged = (signer: typeof clean.appliance, root_: string) => (t: string) =>
      `${t}${cosignLine(122, 120, root_, signer)}\n`;
    expect(
      await reasonIn(tampered(file, forged(clean.controlPlane, lastRoot(text)))),
    ).toMatchObject({ reason: "cosignature_bad_signature", line: 6 });
    // The appliance's own key over another root at a size the export determines: a split view.
    expect(await reasonIn(tampered(file, forged(clean.appliance, "e".repeat(64))))).toMatchObject({
      reason: "split_view",
      file,
      line: 6,
    });
    expect(
      await reasonIn(
        tampered(
          file,
          editLine(0, (l) => l.replace('"cosignature"', ' "cosignature"')),
        ),
      ),
    ).toMatchObject({ reason: "cosignature_malformed", line: 1 });
    expect(
      await reasonIn(tampered(file, (t) => `${t}${cosignLine(122, 121, lastRoot(text))}\n`)),
    ).toMatchObject({ reason: "cosignature_malformed", line: 6 });
  });

  it("fails an export without the list", async () => {
    const dir = tampered(file, (t) => t);
    rmSync(join(dir, file));
    expect(await reasonIn(dir)).toMatchObject({ reason: "missing_file" });
  });
});

describe("point-in-time answers", () => {
  it("gives every check's state at an instant with the bundle behind it", async () => {
    const at = "2026-11-01T00:10:00.000Z";
    const summary = await verify(clean.directory, { asOf: at, workers: 2 });
    expect(summary.ok).toBe(true);
    // Naively: the last check_result recorded at or before the instant, per check.
    const expected = new Map<string, { status: string; seq: number; hash: string }>();
    for (const text of lines(readFileSync(join(clean.directory, EXPORT_FILES.bundles), "utf8"))) {
      const b = JSON.parse(text);
      if (b.event.kind === "check_result" && b.recorded_at <= at) {
        expected.set(b.event.check_id, { status: b.event.status, seq: b.seq, hash: bundleHash(b) });
      }
    }
    expect(summary.as_of?.checks.length).toBe(6);
    for (const line of summary.as_of?.checks ?? []) {
      expect(expected.get(line.check_id)).toEqual({
        status: line.status,
        seq: line.seq,
        hash: line.hash,
      });
    }
    const before = await verify(clean.directory, { asOf: "2026-10-01T00:00:00Z" });
    expect(before.as_of?.checks).toEqual([]);
  });
});

describe("the CLI", () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(import.meta.dirname, "main.ts"), ...args], {
      encoding: "utf8",
    });
  const pinArgs = () => [
    "--control-plane-key-id",
    clean.controlPlane.keyId,
    "--appliance-key-id",
    clean.appliance.keyId,
  ];

  it("exit 0 with pins; UNPINNED on the first line and exit 1 without, unless allowed", () => {
    const ok = cli(clean.directory, ...pinArgs());
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/signatures verified 120/);
    expect(ok.stdout).toMatch(/^OK: /m);
    expect(ok.stdout).not.toMatch(/UNPINNED/);
    expect(ok.stdout).toContain(`appliance key id     ${clean.appliance.keyId} (matches the pin)`);
    const unpinned = cli(clean.directory);
    expect(unpinned.status).toBe(1);
    expect(unpinned.stdout.split("\n")[0]).toMatch(/^UNPINNED: /);
    const allowed = cli(clean.directory, "--allow-unpinned");
    expect(allowed.status).toBe(0);
    expect(allowed.stdout.split("\n")[0]).toMatch(/^UNPINNED: /);
  });

  it("reads a pins file, names the first failure, and refuses bad arguments", () => {
    const file = join(root, "pins.json");
    writeFileSync(
      file,
      JSON.stringify({
        v: 1,
        control_plane_key_ids: [clean.controlPlane.keyId],
        appliances: [
          {
            tenant_id: clean.tenantId,
            appliance_id: clean.applianceId,
            key_id: clean.appliance.keyId,
          },
        ],
      }),
    );
    expect(cli(clean.directory, "--pins", file).status).toBe(0);
    const bad = tampered(EXPORT_FILES.bundles, (t) => join_(lines(t).filter((_, i) => i !== 5)));
    const failed = cli(bad, "--pins", file);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/FAILED: sequence_gap in bundles.jsonl line 6 \(seq 7\)/);
    expect(cli(clean.directory, "--appliance-key-id", "ABC").status).toBe(2);
    expect(cli(clean.directory, "--as-of", "yesterday").status).toBe(2);
    writeFileSync(file, '{"v":1,"control_plane_key_ids":[],"appliances":[],"__proto__":{}}');
    expect(cli(clean.directory, "--pins", file).stderr).toMatch(/__proto__/);
  });

  it("prints the state of every check at --as-of", () => {
    const run = cli(clean.directory, ...pinArgs(), "--as-of", "2026-11-01T00:10:00Z");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/state of every check at 2026-11-01T00:10:00Z/);
    expect(run.stdout).toMatch(
      /^ {2}patching (pass|drift) since \S+ \(seq \d+, hash [0-9a-f]{64}\)$/m,
    );
  });
});
