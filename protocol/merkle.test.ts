import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "./encoding.ts";
import {
  EMPTY_ROOT,
  leafHash,
  MerkleTree,
  nodeHash,
  RootBuilder,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

// The RFC 6962 reference vectors as published in transparency-dev/merkle,
// testonly/constants.go (LeafInputs, RootHashes, NodeHashes); the same values are in
// certificate-transparency-go's merkletree tests.
const LEAF_INPUTS = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map((h) => fromHex(h, "leaf"));
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
// NodeHashes: level 0 leaf hashes and the interior nodes the proofs below are made of.
const N = {
  l1: "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
  l4: "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
  n11: "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
  n12: "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
  n13: "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
  n20: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  n21: "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
};
function flipBit(bytes: Uint8Array, n: number): void {
  const at = n % bytes.length;
  bytes[at] = (bytes[at] as number) ^ (1 << (n % 8));
}
const hexes = (hs: readonly Uint8Array[]) => hs.map(toHex);
const reference = new MerkleTree(LEAF_INPUTS.map(leafHash));

describe("Merkle tree (RFC 9162 §2.1)", () => {
  it("matches the RFC 6962 reference roots for every size 0..8", () => {
    expect(toHex(EMPTY_ROOT)).toBe(ROOTS[0]);
    for (let n = 0; n <= 8; n++) expect(toHex(reference.root(n)), `size ${n}`).toBe(ROOTS[n]);
    const builder = new RootBuilder();
    LEAF_INPUTS.forEach((leaf, i) => {
      builder.append(leafHash(leaf));
      expect(toHex(builder.root())).toBe(ROOTS[i + 1]);
    });
  });

  it("produces the reference inclusion and consistency proofs", () => {
    expect(hexes(reference.inclusionProof(0, 8))).toEqual([N.l1, N.n11, N.n21]);
    expect(hexes(reference.inclusionProof(5, 8))).toEqual([N.l4, N.n13, N.n20]);
    expect(hexes(reference.consistencyProof(1, 8))).toEqual([N.l1, N.n11, N.n21]);
    expect(hexes(reference.consistencyProof(6, 8))).toEqual([N.n12, N.n13, N.n20]);
    expect(hexes(reference.consistencyProof(2, 5))).toEqual([N.n11, N.l4]);
  });

  const leaves = fc
    .integer({ min: 1, max: 70 })
    .map((n) => Array.from({ length: n }, (_, i) => leafHash(new Uint8Array([i, i >> 8, 7]))));

  it("verifies every generated inclusion proof and refuses any tampering", () => {
    fc.assert(
      fc.property(leaves, fc.nat(), fc.nat(), fc.nat(), (hs, a, b, flip) => {
        const tree = new MerkleTree(hs);
        const size = 1 + (a % tree.size);
        const index = b % size;
        const proof = tree.inclusionProof(index, size);
        const root = tree.root(size);
        const leaf = hs[index] as Uint8Array;
        expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
        // Another leaf, another index, another size or a flipped proof bit all fail.
        const other = hs[(index + 1) % size] as Uint8Array;
        if (size > 1) expect(verifyInclusion(other, index, size, proof, root)).toBe(false);
        if (size > 1)
          expect(verifyInclusion(leaf, (index + 1) % size, size, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, size, size, proof, root)).toBe(false);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          flipBit(bad[flip % bad.length] as Uint8Array, flip);
          expect(verifyInclusion(leaf, index, size, bad, root)).toBe(false);
          expect(verifyInclusion(leaf, index, size, proof.slice(1), root)).toBe(false);
        }
        expect(verifyInclusion(leaf, index, size, [...proof, root], root)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("verifies every generated consistency proof and refuses any tampering", () => {
    fc.assert(
      fc.property(leaves, fc.nat(), fc.nat(), fc.nat(), (hs, a, b, flip) => {
        const tree = new MerkleTree(hs);
        const second = 1 + (a % tree.size);
        const first = b % (second + 1);
        const proof = tree.consistencyProof(first, second);
        const r1 = tree.root(first);
        const r2 = tree.root(second);
        expect(verifyConsistency(first, second, r1, r2, proof)).toBe(true);
        if (first > 0 && first < second) {
          const bad = proof.map((p) => p.slice());
          flipBit(bad[flip % bad.length] as Uint8Array, flip);
          expect(verifyConsistency(first, second, r1, r2, bad)).toBe(false);
          expect(verifyConsistency(first, second, r2, r2, proof)).toBe(false);
          expect(verifyConsistency(first, second, r1, r1, proof)).toBe(false);
          // A rewritten history: the same sizes, another leaf inside the first tree.
          const forged = hs.slice(0, second);
          forged[flip % first] = leafHash(new Uint8Array([9, 9, 9]));
          const other = new MerkleTree(forged);
          expect(verifyConsistency(first, second, r1, other.root(second), proof)).toBe(false);
          expect(
            verifyConsistency(first, second, r1, other.root(second), other.consistencyProof(first)),
          ).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("refuses proofs one hash too long or too short, even against the root they fold to", () => {
    // Eight leaves: the path of leaf 2 has three hashes, and its first two fold to the root of
    // leaves 0..3. A proof that stops there, or one that folds one more sibling in, proves the
    // leaf into another tree than the one of the claimed size: only the length rules refuse it.
    const tree = new MerkleTree(LEAF_INPUTS.map((l) => leafHash(l)));
    const leaf = leafHash(LEAF_INPUTS[2] as Uint8Array);
    const path = tree.inclusionProof(2, 8);
    expect(path).toHaveLength(3);
    expect(verifyInclusion(leaf, 2, 8, path, tree.root(8))).toBe(true);
    // RFC 9162 §2.1.3.2 step 4: sn must be 0 once the path is used up (too short).
    expect(verifyInclusion(leaf, 2, 8, path.slice(0, 2), tree.root(4))).toBe(false);
    // Step 3a: no hash may follow once sn is 0 (too long).
    const extra = leafHash(new Uint8Array([1]));
    expect(verifyInclusion(leaf, 2, 8, [...path, extra], nodeHash(extra, tree.root(8)))).toBe(
      false,
    );
    // Consistency from 2 to 8: [hash of leaves 2..3, hash of leaves 4..7]. Without the last one
    // the proof folds to the root of size 4; step 7 requires sn to be 0 as well.
    const proof = tree.consistencyProof(2, 8);
    expect(proof).toHaveLength(2);
    expect(verifyConsistency(2, 8, tree.root(2), tree.root(8), proof)).toBe(true);
    expect(verifyConsistency(2, 8, tree.root(2), tree.root(4), proof.slice(0, 1))).toBe(false);
    expect(
      verifyConsistency(2, 8, tree.root(2), nodeHash(extra, tree.root(8)), [...proof, extra]),
    ).toBe(false);
  });

  it("computes the same roots from a frontier as from the whole tree", () => {
    fc.assert(
      fc.property(leaves, fc.nat(), (hs, a) => {
        const tree = new MerkleTree(hs);
        const start = a % (tree.size + 1);
        const builder = new RootBuilder(start, tree.frontier(start));
        expect(toHex(builder.root())).toBe(toHex(tree.root(start)));
        for (let i = start; i < tree.size; i++) {
          builder.append(hs[i] as Uint8Array);
          expect(toHex(builder.root())).toBe(toHex(tree.root(i + 1)));
        }
      }),
      { numRuns: 100 },
    );
    expect(() => new RootBuilder(3, [])).toThrow(/frontier of 2 hashes/);
  });
});
