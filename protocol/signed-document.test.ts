import { describe, expect, it } from "vitest";
import { canonicalize } from "./canonical-json.ts";
import { generateEd25519KeyPair } from "./ed25519.ts";
import { constantTimeEqual } from "./encoding.ts";
import type { Signature } from "./schemas/common.ts";
import {
  createSigner,
  signDocument,
  signingBytes,
  verificationKey,
  verifyDocument,
} from "./signed-document.ts";

type Note = { type: string; body: Record<string, unknown>; sig: Signature };
const signer = createSigner(generateEd25519KeyPair().privateKey);
const key = verificationKey(signer.publicKey);

describe("signed documents", () => {
  const note = signDocument<Note>({ type: "evidence_receipt", body: { b: 2, a: 1 } }, signer);

  it("sign the canonical bytes of the document without its sig", () => {
    expect(new TextDecoder().decode(signingBytes(note))).toBe(
      canonicalize({ body: { a: 1, b: 2 }, type: "evidence_receipt" }),
    );
    expect(note.sig).toMatchObject({ alg: "Ed25519", key_id: signer.keyId });
    expect(verifyDocument(note, key)).toBe(true);
  });

  it("verify whatever order the members arrive in (JSON round trip)", () => {
    const reordered = JSON.parse(
      JSON.stringify({ sig: note.sig, body: { a: 1, b: 2 }, type: note.type }),
    );
    expect(verifyDocument(reordered, key)).toBe(true);
  });

  it("bind the message type: the same body under another type does not verify", () => {
    const retyped: Note = { ...note, type: "poll_response" };
    expect(verifyDocument(retyped, key)).toBe(false);
  });

  it("refuse a signature that names another key, or is not base64", () => {
    const other = verificationKey(generateEd25519KeyPair().publicKey);
    expect(verifyDocument(note, other)).toBe(false);
    expect(verifyDocument({ ...note, sig: { ...note.sig, value: "%%%" } }, key)).toBe(false);
  });
});

describe("constantTimeEqual", () => {
  it.each([
    ["same", "abc", "abc", true],
    ["different", "abc", "abd", false],
    ["different length", "abc", "abcd", false],
    ["empty", "", "", true],
  ])("%s", (_name, a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
  });
});

describe("signature encoding", () => {
  it("refuses a non-canonical base64 spelling of a valid signature (RFC 4648 §3.5)", () => {
    const note = signDocument<Note>({ type: "t", body: {} }, signer);
    // 64 bytes take 86 characters; the last one carries 2 unused bits. Setting them keeps the
    // decoded bytes but changes the text, which must not verify as the same signature.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const last = note.sig.value[85] as string;
    const respelled = alphabet[alphabet.indexOf(last) ^ 1] as string;
    const value = `${note.sig.value.slice(0, 85)}${respelled}==`;
    expect(Buffer.from(value, "base64").equals(Buffer.from(note.sig.value, "base64"))).toBe(true);
    expect(verifyDocument({ ...note, sig: { ...note.sig, value } }, key)).toBe(false);
  });
});
