import { createHash } from "node:crypto";
import { SHORT_INPUT_MAX, sha256ShortInto } from "./sha256-short.ts";

/**
 * The per-appliance Merkle log, RFC 9162 §2.1 (the tree of RFC 6962 §2.1). Pure functions over
 * 32-byte hashes; no I/O.
 *
 * A leaf's data is the 32 raw bytes of the bundle hash (SHA-256 of the bundle's RFC 8785 bytes
 * without `sig`, the hash the evidence chain already uses), so the leaf hash of bundle n is
 * SHA-256(0x00 || bundle_hash) and an auditor recomputes it with sha256sum (docs/auditor.md).
 * Leaf n of the tree (0-based) is the bundle with seq n + 1.
 */
export const HASH_LENGTH = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

// RFC 9162 §2.1.1: MTH({}) = SHA-256().
export const EMPTY_ROOT: Uint8Array = new Uint8Array(createHash("sha256").digest());

/** RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0)), written to `out` at `offset`. */
export function leafHashInto(leaf: Uint8Array, out: Uint8Array, offset: number): void {
  if (leaf.byteLength < SHORT_INPUT_MAX) {
    sha256ShortInto(0x00, [leaf], out, offset);
  } else {
    out.set(createHash("sha256").update(LEAF_PREFIX).update(leaf).digest(), offset);
  }
}

/** RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0)). */
export function leafHash(leaf: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH_LENGTH);
  leafHashInto(leaf, out, 0);
  return out;
}

/** RFC 9162 §2.1.1: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH_LENGTH);
  if (left.byteLength + right.byteLength < SHORT_INPUT_MAX) {
    sha256ShortInto(0x01, [left, right], out, 0);
  } else {
    out.set(createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest());
  }
  return out;
}

/** The largest power of two strictly below n (n ≥ 2): RFC 9162 §2.1.1's k. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * A tree over leaf hashes that answers roots and proofs for any size up to its own in
 * O(log n) hash operations: it keeps every complete, aligned subtree (level i holds the roots
 * of leaves [j·2^i, (j+1)·2^i)), which are exactly the left subtrees of RFC 9162's recursion.
 */
export class MerkleTree {
  readonly #levels: Uint8Array[][] = [[]];

  constructor(leafHashes: Iterable<Uint8Array> = []) {
    for (const leaf of leafHashes) this.append(leaf);
  }

  get size(): number {
    return (this.#levels[0] as Uint8Array[]).length;
  }

  append(leaf: Uint8Array): void {
    if (leaf.byteLength !== HASH_LENGTH) throw new RangeError("a leaf hash is 32 bytes");
    let level = 0;
    let hash = leaf;
    for (;;) {
      const row = this.#levels[level] ?? [];
      this.#levels[level] = row;
      row.push(hash);
      if (row.length % 2 === 1) return;
      hash = nodeHash(row[row.length - 2] as Uint8Array, hash);
      level++;
    }
  }

  /** MTH(D[start:end]) for a range this tree holds. */
  #hash(start: number, end: number): Uint8Array {
    const n = end - start;
    if (n === 0) return EMPTY_ROOT;
    // A complete aligned subtree is stored.
    if (isPowerOfTwo(n) && start % n === 0) {
      const level = Math.log2(n);
      const stored = this.#levels[level]?.[start / n];
      if (stored) return stored;
    }
    const k = split(n);
    return nodeHash(this.#hash(start, start + k), this.#hash(start + k, end));
  }

  /** The root hash of the first `size` leaves (RFC 9162 §2.1.1). */
  root(size: number = this.size): Uint8Array {
    this.#check(size);
    return this.#hash(0, size);
  }

  /** RFC 9162 §2.1.3.1: the inclusion path of leaf `index` in the tree of the first `size`. */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    this.#check(size);
    if (!(Number.isInteger(index) && index >= 0 && index < size)) {
      throw new RangeError(`leaf ${index} is outside a tree of ${size}`);
    }
    const path: Uint8Array[] = [];
    const walk = (m: number, start: number, end: number) => {
      const n = end - start;
      if (n === 1) return;
      const k = split(n);
      if (m < k) {
        walk(m, start, start + k);
        path.push(this.#hash(start + k, end));
      } else {
        walk(m - k, start + k, end);
        path.push(this.#hash(start, start + k));
      }
    };
    walk(index, 0, size);
    return path;
  }

  /** RFC 9162 §2.1.4.1: the consistency proof from the tree of size `first` to size `second`. */
  consistencyProof(first: number, second: number = this.size): Uint8Array[] {
    this.#check(second);
    if (!(Number.isInteger(first) && first >= 0 && first <= second)) {
      throw new RangeError(`no consistency proof from ${first} to ${second}`);
    }
    if (first === 0 || first === second) return [];
    const proof: Uint8Array[] = [];
    const sub = (m: number, start: number, end: number, complete: boolean) => {
      const n = end - start;
      if (m === n) {
        if (!complete) proof.push(this.#hash(start, end));
        return;
      }
      const k = split(n);
      if (m <= k) {
        sub(m, start, start + k, complete);
        proof.push(this.#hash(start + k, end));
      } else {
        sub(m - k, start + k, end, false);
        proof.push(this.#hash(start, start + k));
      }
    };
    sub(first, 0, second, true);
    return proof;
  }

  /**
   * The roots of the complete subtrees that make up the first `size` leaves, largest first
   * (a "compact range"): with them, a verifier holding only later leaves can still compute the
   * root of every larger tree (see `RootBuilder`).
   */
  frontier(size: number = this.size): Uint8Array[] {
    this.#check(size);
    const out: Uint8Array[] = [];
    let start = 0;
    for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2) {
      if (Math.floor(size / bit) % 2 === 1) {
        out.push(this.#hash(start, start + bit));
        start += bit;
      }
    }
    return out;
  }

  #check(size: number): void {
    if (!(Number.isInteger(size) && size >= 0 && size <= this.size)) {
      throw new RangeError(`tree size ${size} is outside 0..${this.size}`);
    }
  }
}

/**
 * Streaming root computation for a verifier: append leaf hashes one by one, ask for the root
 * at any point. Memory is O(log n): a stack of complete subtrees (the binary decomposition of
 * the size), folded right to left for the root, which equals RFC 9162's MTH.
 */
export class RootBuilder {
  #size: number;
  readonly #stack: Uint8Array[];

  /** Starts empty, or after `size` leaves given by their frontier (MerkleTree.frontier). */
  constructor(size = 0, frontier: readonly Uint8Array[] = []) {
    const expected = popcount(size);
    if (frontier.length !== expected || frontier.some((h) => h.byteLength !== HASH_LENGTH)) {
      throw new RangeError(`a tree of ${size} leaves has a frontier of ${expected} hashes`);
    }
    this.#size = size;
    this.#stack = [...frontier];
  }

  get size(): number {
    return this.#size;
  }

  append(leaf: Uint8Array): void {
    let hash = leaf;
    // Merge while the lowest set bit carries, as in binary addition.
    for (let s = this.#size; s & 1; s = Math.floor(s / 2)) {
      hash = nodeHash(this.#stack.pop() as Uint8Array, hash);
    }
    this.#stack.push(hash);
    this.#size++;
  }

  root(): Uint8Array {
    if (this.#stack.length === 0) return EMPTY_ROOT;
    let root = this.#stack[this.#stack.length - 1] as Uint8Array;
    for (let i = this.#stack.length - 2; i >= 0; i--) {
      root = nodeHash(this.#stack[i] as Uint8Array, root);
    }
    return root;
  }
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function popcount(n: number): number {
  let count = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) count += x & 1;
  return count;
}

const isHash = (h: Uint8Array) => h.byteLength === HASH_LENGTH;

function equalHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/** RFC 9162 §2.1.3.2: verifies an inclusion proof of `leaf` (a leaf hash) at `index`. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  // Step 1.
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0)) return false;
  if (index >= size || !isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  // Step 2.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  // Step 3.
  for (const p of proof) {
    if (sn === 0) return false; // 3a
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r); // 3b
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); // 3c
    sn = Math.floor(sn / 2);
  }
  // Step 4.
  return sn === 0 && equalHash(r, root);
}

/**
 * RFC 9162 §2.1.4.2: verifies that the tree of `first` leaves with root `firstRoot` is a
 * prefix of the tree of `second` leaves with root `secondRoot`. Equal sizes need equal roots
 * and an empty proof; the empty tree is a prefix of every tree.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second))) return false;
  if (first < 0 || first > second || !isHash(firstRoot) || !isHash(secondRoot)) return false;
  if (!proof.every(isHash)) return false;
  if (first === 0) return proof.length === 0 && equalHash(firstRoot, EMPTY_ROOT);
  if (first === second) return proof.length === 0 && equalHash(firstRoot, secondRoot);
  // Step 1.
  if (proof.length === 0) return false;
  // Step 2.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  // Step 3.
  let fn = first - 1;
  let sn = second - 1;
  // Step 4.
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // Step 6.
  for (const c of path.slice(1)) {
    if (sn === 0) return false; // 6a
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr); // 6b i
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2); // 6b ii
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); // 6c
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  return equalHash(fr, firstRoot) && equalHash(sr, secondRoot) && sn === 0;
}
