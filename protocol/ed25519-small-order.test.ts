import nacl from "tweetnacl";
import { describe, expect, it } from "vitest";
import { publicKeyFromRaw, verifyBytes } from "./ed25519.ts";
import { portableVerify } from "./ed25519-portable.ts";
import { isSmallOrderEncoding, SMALL_ORDER_ENCODINGS } from "./ed25519-small-order.ts";
import { ProtocolError } from "./errors.ts";

// edwards25519 in BigInt (RFC 8032 §5.1): enough to decode a point and double it.
const p = 2n ** 255n - 19n;
const mod = (a: bigint) => ((a % p) + p) % p;
const pow = (b: bigint, e: bigint) => {
  let r = 1n;
  let x = mod(b);
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = mod(r * x);
    x = mod(x * x);
  }
  return r;
};
const inv = (a: bigint) => pow(a, p - 2n);
const d = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (p - 1n) / 4n);

/** RFC 8032 §5.1.3, without the canonical-y rule (so p and p+1 decode as 0 and 1). */
function decode(bytes: Uint8Array): [bigint, bigint] | undefined {
  let y = 0n;
  for (let i = 31; i >= 0; i--)
    y = (y << 8n) | BigInt((bytes[i] as number) & (i === 31 ? 0x7f : 0xff));
  y = mod(y);
  const u = mod(y * y - 1n);
  const v = mod(d * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (p - 5n) / 8n));
  if (mod(v * x * x) !== u) {
    if (mod(v * x * x) !== mod(-u)) return undefined;
    x = mod(x * SQRT_M1);
  }
  return [x, y];
}
function double([x, y]: [bigint, bigint]): [bigint, bigint] {
  // -x^2 + y^2 = 1 + d x^2 y^2 (a = -1)
  const xy = mod(x * y);
  const x3 = mod(2n * xy * inv(mod(1n + d * xy * xy)));
  const y3 = mod((y * y + x * x) * inv(mod(1n - d * xy * xy)));
  return [x3, y3];
}
const isIdentity = ([x, y]: [bigint, bigint]) => x === 0n && y === 1n;

describe("small-order points (RFC 8032 §5.1, cofactor 8)", () => {
  it("every listed encoding decodes to a point P with [8]P the identity", () => {
    for (const encoding of SMALL_ORDER_ENCODINGS) {
      const point = decode(encoding);
      expect(point).toBeDefined();
      expect(isIdentity(double(double(double(point as [bigint, bigint]))))).toBe(true);
    }
  });

  it("the list holds all eight torsion points (both signs of x)", () => {
    const ys = new Set(SMALL_ORDER_ENCODINGS.map((e) => decode(e)?.[1]));
    // identity, order 2, two of order 4 (y = 0), four of order 8 (y8, p - y8)
    expect(ys.size).toBe(5);
    for (const encoding of SMALL_ORDER_ENCODINGS) {
      const negative = Uint8Array.from(encoding);
      negative[31] = (negative[31] as number) | 0x80;
      expect(isSmallOrderEncoding(negative)).toBe(true);
    }
  });

  it("does not flag real keys", () => {
    for (let i = 0; i < 50; i++) {
      expect(isSmallOrderEncoding(nacl.sign.keyPair().publicKey)).toBe(false);
    }
  });

  it("refuses the identity-key forgery that tweetnacl alone accepts", () => {
    const identity = Uint8Array.from(SMALL_ORDER_ENCODINGS[1] as Uint8Array);
    const forged = new Uint8Array(64);
    forged.set(identity, 0); // R = identity, S = 0
    const message = new TextEncoder().encode("any message at all");
    // The unprotected primitive: [0]B = O = R + [k]O.
    expect(nacl.sign.detached.verify(message, forged, identity)).toBe(true);
    expect(portableVerify(identity, message, forged)).toBe(false);
    // A small-order R with a real key is refused too.
    const real = nacl.sign.keyPair();
    expect(portableVerify(real.publicKey, message, forged)).toBe(false);
    // And the node:crypto path never accepts such a key in the first place.
    expect(() => publicKeyFromRaw(identity)).toThrow(ProtocolError);
  });

  it("verifyBytes refuses a small-order R before calling OpenSSL", () => {
    const pair = nacl.sign.keyPair();
    const key = publicKeyFromRaw(pair.publicKey);
    const message = new TextEncoder().encode("m");
    const good = nacl.sign.detached(message, pair.secretKey);
    expect(verifyBytes(key, message, good)).toBe(true);
    for (const encoding of SMALL_ORDER_ENCODINGS) {
      const bad = Uint8Array.from(good);
      bad.set(encoding, 0);
      expect(verifyBytes(key, message, bad)).toBe(false);
    }
  });
});
