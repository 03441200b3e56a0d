import { verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  checkpointNoteBody,
  cosignCheckpoint,
  cosignerKeyId,
  verifyCosignature,
  witnessName,
} from "./cosignature.ts";
import { generateEd25519KeyPair, rawPublicKey } from "./ed25519.ts";
import { sha256 } from "./encoding.ts";
import { EvidenceEvent } from "./schemas/evidence.ts";
import { createSigner } from "./signed-document.ts";

const cp = {
  tenant_id: "clinic-a",
  appliance_id: "clinic-a-01",
  tree_size: 20852163,
  root_hash: Buffer.from("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "base64").toString("hex"),
};

describe("witness cosignatures (C2SP tlog-cosignature, cosignature/v1)", () => {
  const signer = createSigner(generateEd25519KeyPair().privateKey);

  it("writes the checkpoint note body of C2SP tlog-checkpoint", () => {
    expect(checkpointNoteBody(cp)).toBe(
      "msp-compliance/evidence/clinic-a/clinic-a-01\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    );
  });

  it("signs exactly the cosignature/v1 message and lays out key ID, timestamp and signature", () => {
    const line = cosignCheckpoint(cp, signer, 1679315147);
    const name = witnessName(cp);
    expect(line.startsWith(`— ${name} `)).toBe(true);
    const blob = Buffer.from(line.slice(`— ${name} `.length), "base64");
    expect(blob.length).toBe(76);
    // Key ID: SHA-256(name || "\n" || 0x04 || key)[:4], computed here independently.
    const keyIdInput = Buffer.concat([
      Buffer.from(`${name}\n`),
      Buffer.from([4]),
      rawPublicKey(signer.publicKey),
    ]);
    expect(blob.subarray(0, 4)).toEqual(Buffer.from(sha256(keyIdInput).subarray(0, 4)));
    expect(Buffer.from(cosignerKeyId(name, signer.publicKey))).toEqual(blob.subarray(0, 4));
    expect(blob.readBigUInt64BE(4)).toBe(1679315147n);
    const message = `cosignature/v1\ntime 1679315147\n${checkpointNoteBody(cp)}`;
    expect(verify(null, Buffer.from(message), signer.publicKey, blob.subarray(12))).toBe(true);
    expect(verifyCosignature(cp, line, signer.publicKey)).toEqual({
      ok: true,
      timestamp: 1679315147,
    });
    expect(
      EvidenceEvent.safeParse({
        kind: "checkpoint_verified",
        tree_size: 1,
        root_hash: cp.root_hash,
        issued_at: "2026-11-01T00:00:00Z",
        from_size: 0,
        cosignature: line,
      }).success,
    ).toBe(true);
  });

  it("refuses another root, size, appliance, key or timestamp", () => {
    const line = cosignCheckpoint(cp, signer, 1679315147);
    const other = createSigner(generateEd25519KeyPair().privateKey);
    expect(verifyCosignature({ ...cp, tree_size: 1 }, line, signer.publicKey).ok).toBe(false);
    expect(verifyCosignature({ ...cp, root_hash: "0".repeat(64) }, line, signer.publicKey).ok).toBe(
      false,
    );
    expect(
      verifyCosignature({ ...cp, appliance_id: "clinic-a-02" }, line, signer.publicKey),
    ).toEqual({ ok: false, detail: expect.stringMatching(/not a signature line/) });
    expect(verifyCosignature(cp, line, other.publicKey)).toEqual({
      ok: false,
      detail: "key ID is not the appliance key's",
    });
    const blob = Buffer.from(line.split(" ").at(-1) as string, "base64");
    blob.writeBigUInt64BE(1679315148n, 4);
    const moved = `${line.slice(0, line.lastIndexOf(" "))} ${blob.toString("base64")}`;
    expect(verifyCosignature(cp, moved, signer.publicKey).ok).toBe(false);
  });
});
