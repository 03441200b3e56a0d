import { describe, expect, it } from "vitest";
import { z } from "zod";
import { canonicalize } from "./canonical-json.ts";
import { generateEd25519KeyPair } from "./ed25519.ts";
import { constantTimeEqual } from "./encoding.ts";
import { Signature } from "./schemas/common.ts";
import {
  createSigner,
  signDocument,
  signingBytes,
  verificationKey,
  verifyDocument,
} from "./signed-document.ts";

const Note = z.strictObject({
  type: z.string(),
  body: z.record(z.string(), z.unknown()),
  sig: Signature,
});
type Note = z.infer<typeof Note>;
const signer = createSigner(generateEd25519KeyPair().privateKey);
const key = verificationKey(signer.publicKey);

describe("signed documents", () => {
  const note = signDocument<Note>(Note, { type: "evidence_receipt", body: { b: 2, a: 1 } }, signer);

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

describe("signing only what the schema accepts", () => {
  const signed: Uint8Array[] = [];
  const counting = {
    ...signer,
    sign: (m: Uint8Array) => {
      signed.push(m);
      return signer.sign(m);
    },
  };
  it.each([
    ["a member the schema does not know", { type: "t", body: {}, extra: 1 }, /fails its schema/],
    ["a wrong type", { type: 7, body: {} }, /fails its schema/],
    ["a lone surrogate", { type: "t", body: { s: "ab\ud800" } }, /lone surrogate/],
    ["a value with no JSON form", { type: "t", body: { n: Number.NaN } }, /not a JSON number/],
  ])("refuses %s before any signature exists", (_name, document, problem) => {
    expect(() => signDocument<Note>(Note, document as never, counting)).toThrow(problem);
    expect(signed).toHaveLength(0);
  });

  it("refuses a schema that would rewrite the document (the signature could not verify)", () => {
    const Trimming = z.strictObject({
      type: z.string().trim(),
      body: z.record(z.string(), z.unknown()),
      sig: Signature,
    });
    expect(() => signDocument<Note>(Trimming, { type: " t ", body: {} }, counting)).toThrow(
      /drop or rewrite/,
    );
    expect(signed).toHaveLength(0);
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
    const note = signDocument<Note>(Note, { type: "t", body: {} }, signer);
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
