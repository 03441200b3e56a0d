import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SHORT_INPUT_MAX, sha256ShortInto } from "./sha256-short.ts";

const native = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest());

function short(bytes: Uint8Array, split: number): Uint8Array {
  const out = new Uint8Array(40);
  sha256ShortInto(bytes[0] as number, [bytes.subarray(1, split), bytes.subarray(split)], out, 5);
  return out.subarray(5, 37);
}

describe("SHA-256 of short inputs", () => {
  it("equals node:crypto for every length it accepts, every split, and random bytes", () => {
    for (let n = 1; n <= SHORT_INPUT_MAX; n++) {
      for (let round = 0; round < 20; round++) {
        const bytes = new Uint8Array(randomBytes(n));
        const split = 1 + (round % n);
        expect(short(bytes, split)).toEqual(native(bytes));
      }
      expect(short(new Uint8Array(n).fill(0xff), 1)).toEqual(native(new Uint8Array(n).fill(0xff)));
    }
  });

  it("gives the FIPS 180-4 example digests", () => {
    // "abc" (FIPS 180-4 appendix, SHA-256 example one block) and the 56-byte two-block example.
    const abc = new TextEncoder().encode("abc");
    expect(Buffer.from(short(abc, 2)).toString("hex")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const two = new TextEncoder().encode(
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    );
    expect(Buffer.from(short(two, 10)).toString("hex")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("refuses inputs longer than two blocks can hold", () => {
    expect(() =>
      sha256ShortInto(0, [new Uint8Array(SHORT_INPUT_MAX)], new Uint8Array(32), 0),
    ).toThrow(RangeError);
  });
});
