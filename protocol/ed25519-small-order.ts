/**
 * Small-order points of edwards25519 (RFC 8032 §5.1; the curve's cofactor is 8). A public key A
 * or a commitment R whose point has order 1, 2, 4 or 8 lets a forger satisfy the verification
 * equation [S]B = R + [k]A without the private key: with A and R the identity and S = 0 every
 * message "verifies" under the cofactorless equation too. So both are refused before verifying.
 *
 * The eight torsion points have y in {1, p-1, 0, y8, p-y8}; their encodings, and the
 * non-canonical encodings of y = 0 and y = 1 (p and p+1), differ only in the sign bit of x (the
 * top bit of byte 31), which is ignored here. The same list as libsodium's `has_small_order`;
 * `ed25519-small-order.test.ts` recomputes [8]P = identity for each entry with BigInt arithmetic.
 */
const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
export const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = [
  // y = 0: (±sqrt(-1), 0), order 4
  hex("0000000000000000000000000000000000000000000000000000000000000000"),
  // y = 1: the identity, order 1
  hex("0100000000000000000000000000000000000000000000000000000000000000"),
  // y = y8 and y = p - y8: the four points of order 8
  hex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
  hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
  // y = p - 1: (0, -1), order 2
  hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
  // y = p and y = p + 1: non-canonical encodings of y = 0 and y = 1
  hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
  hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
];

/** True when the 32 bytes at `offset` encode a point of small order (sign bit ignored). */
export function isSmallOrderEncoding(bytes: Uint8Array, offset = 0): boolean {
  if (bytes.byteLength < offset + 32) return false;
  outer: for (const candidate of SMALL_ORDER_ENCODINGS) {
    for (let i = 0; i < 31; i++) {
      if (bytes[offset + i] !== candidate[i]) continue outer;
    }
    if (((bytes[offset + 31] as number) & 0x7f) === candidate[31]) return true;
  }
  return false;
}
