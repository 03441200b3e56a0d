/**
 * SHA-256 (FIPS 180-4 §6.2) of short inputs, in plain JavaScript, for the Merkle log's leaf and
 * node hashes (33 and 65 bytes). A log of a million leaves needs about two million of them, and
 * a call into node:crypto costs more than hashing one or two 64-byte blocks here; long inputs go
 * to node:crypto. `sha256-short.test.ts` holds it to node:crypto on every length it accepts.
 */
export const SHORT_INPUT_MAX = 119; // two blocks, with the 0x80 byte and the 64-bit length

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
// 64 primes.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
// FIPS 180-4 §5.3.3: the initial hash value.
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const W = new Int32Array(64);
const H = new Int32Array(8);
const block = new Uint8Array(128);

// FIPS 180-4 §6.2.2: one block of the padded message at `offset`.
function compress(m: Uint8Array, offset: number): void {
  for (let t = 0; t < 16; t++) {
    const j = offset + 4 * t;
    W[t] = ((m[j] as number) << 24) | ((m[j + 1] as number) << 16) | ((m[j + 2] as number) << 8);
    W[t] = (W[t] as number) | (m[j + 3] as number);
  }
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15] as number;
    const y = W[t - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = ((W[t - 16] as number) + s0 + (W[t - 7] as number) + s1) | 0;
  }
  let a = H[0] as number;
  let b = H[1] as number;
  let c = H[2] as number;
  let d = H[3] as number;
  let e = H[4] as number;
  let f = H[5] as number;
  let g = H[6] as number;
  let h = H[7] as number;
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K[t] as number) + (W[t] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = ((H[0] as number) + a) | 0;
  H[1] = ((H[1] as number) + b) | 0;
  H[2] = ((H[2] as number) + c) | 0;
  H[3] = ((H[3] as number) + d) | 0;
  H[4] = ((H[4] as number) + e) | 0;
  H[5] = ((H[5] as number) + f) | 0;
  H[6] = ((H[6] as number) + g) | 0;
  H[7] = ((H[7] as number) + h) | 0;
}

/**
 * SHA-256 of `prefix` (one byte) followed by `parts`, at most SHORT_INPUT_MAX bytes in all,
 * written to `out` at `offset` (32 bytes).
 */
export function sha256ShortInto(
  prefix: number,
  parts: readonly Uint8Array[],
  out: Uint8Array,
  offset: number,
): void {
  let n = 1;
  for (const p of parts) n += p.byteLength;
  if (n > SHORT_INPUT_MAX) throw new RangeError(`at most ${SHORT_INPUT_MAX} bytes, got ${n}`);
  // FIPS 180-4 §5.1.1: the message, 0x80, zeros, and the length in bits as 64-bit big-endian.
  const blocks = n + 9 > 64 ? 2 : 1;
  const end = 64 * blocks;
  block.fill(0, 0, end);
  block[0] = prefix;
  let at = 1;
  for (const p of parts) {
    block.set(p, at);
    at += p.byteLength;
  }
  block[n] = 0x80;
  const bits = n * 8;
  block[end - 2] = bits >>> 8;
  block[end - 1] = bits & 0xff;
  H.set(IV);
  compress(block, 0);
  if (blocks === 2) compress(block, 64);
  for (let i = 0; i < 8; i++) {
    const v = H[i] as number;
    out[offset + 4 * i] = v >>> 24;
    out[offset + 4 * i + 1] = (v >>> 16) & 0xff;
    out[offset + 4 * i + 2] = (v >>> 8) & 0xff;
    out[offset + 4 * i + 3] = v & 0xff;
  }
}
