import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import canonicalizeReference from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalize, findProtoKey } from "./canonical-json.ts";
import { ProtocolError } from "./errors.ts";

// Reference data from outside the project (../shared/testdata/README.md): the RFC 8785
// author's test vectors. Read in place, never copied. Absent only in a user's own clone.
const RFC8785 = join(import.meta.dirname, "..", "..", "shared", "testdata", "rfc8785");
const haveVectors = existsSync(RFC8785);
if (!haveVectors && process.env.CI) {
  throw new Error(`CI must provide the RFC 8785 reference data at ${RFC8785}`);
}

describe.skipIf(!haveVectors)("RFC 8785 reference vectors (shared/testdata/rfc8785)", () => {
  const names = haveVectors ? readdirSync(join(RFC8785, "input")).sort() : [];

  it("has the six published vector files", () => {
    expect(names).toEqual([
      "arrays.json",
      "french.json",
      "structures.json",
      "unicode.json",
      "values.json",
      "weird.json",
    ]);
  });

  it.each(names)("%s canonicalizes to the exact published bytes", (name) => {
    const input = JSON.parse(readFileSync(join(RFC8785, "input", name), "utf8"));
    const expected = readFileSync(join(RFC8785, "output", name));
    expect(Buffer.from(canonicalize(input), "utf8").equals(expected)).toBe(true);
  });
});

describe("canonicalize", () => {
  it.each([
    // U+1F600 sorts between U+20AC and U+FB33 as its surrogate pair D83D DE00 (not by code point).
    [
      "key order by UTF-16 code units",
      { b: 1, a: 2, "\u20ac": 3, "\ud83d\ude00": 4, "\ufb33": 5 },
      '{"a":2,"b":1,"\u20ac":3,"\ud83d\ude00":4,"\ufb33":5}',
    ],
    ["negative zero", -0, "0"],
    [
      "ES6 number form",
      [1e21, 1e-7, 0.1, 100, 4.5e-7, 333333333.3333333],
      "[1e+21,1e-7,0.1,100,4.5e-7,333333333.3333333]",
    ],
    ["control characters", "\u0000\b\t\n\f\r\u001f", '"\\u0000\\b\\t\\n\\f\\r\\u001f"'],
    ["no escaping of non-ASCII or slash", "é/€", '"é/€"'],
    [
      "nested arrays and nulls",
      [[], {}, null, [null, true, false]],
      "[[],{},null,[null,true,false]]",
    ],
  ])("%s", (_name, value, expected) => {
    expect(canonicalize(value)).toBe(expected);
  });

  it.each([
    ["NaN", Number.NaN, /not a JSON number/],
    ["Infinity", [Number.POSITIVE_INFINITY], /\$\[0\]: Infinity is not a JSON number/],
    ["undefined member", { a: undefined }, /\$\.a: undefined/],
    ["bigint", 1n, /bigint has no JSON form/],
    ["function", () => 1, /function has no JSON form/],
    ["lone surrogate value", "\ud800", /lone surrogate/],
    ["lone surrogate key", { "\udc00": 1 }, /lone surrogate/],
    ["Date", new Date(0), /Date is not a plain JSON object/],
    ["Map", new Map(), /Map is not a plain JSON object/],
  ])("refuses %s with a precise error", (_name, value, message) => {
    expect(() => canonicalize(value)).toThrow(ProtocolError);
    expect(() => canonicalize(value)).toThrow(message);
  });

  it("refuses sparse arrays, which have no JSON text", () => {
    // biome-ignore lint/suspicious/noSparseArray: the input under test
    const sparse = [, 1];
    expect(() => canonicalize(sparse)).toThrow(/sparse array/);
    const holey = new Array(3);
    holey[2] = "x";
    expect(() => canonicalize({ a: holey })).toThrow(/\$\.a\[0\]: a sparse array/);
    expect(canonicalize([true, 1])).toBe("[true,1]");
  });

  it("refuses an own __proto__ member, which zod and plain objects drop or misread", () => {
    const parsed = JSON.parse('{"a":{"__proto__":{"x":1},"b":2}}');
    expect(() => canonicalize(parsed)).toThrow(/\$\.a: an own __proto__ member/);
    expect(findProtoKey(parsed)).toBe("$.a.__proto__");
    expect(findProtoKey(JSON.parse('[{"ok":1},{"k":[{"__proto__":null}]}]'))).toBe(
      "$[1].k[0].__proto__",
    );
    expect(findProtoKey(JSON.parse('{"proto":1,"constructor":2}'))).toBeUndefined();
  });

  it("refuses absurd nesting instead of overflowing the stack", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1000; i++) deep = [deep];
    expect(() => canonicalize(deep)).toThrow(/nested deeper than/);
  });

  // An own __proto__ member is refused on purpose (tested above); fast-check can generate one.
  const jsonValue = fc
    .jsonValue({ stringUnit: "grapheme", maxDepth: 4 })
    .filter((v) => findProtoKey(v) === undefined);

  it("is stable: canonicalize(parse(canonicalize(x))) === canonicalize(x)", () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const once = canonicalize(value);
        expect(canonicalize(JSON.parse(once))).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with the RFC co-author's reference implementation on arbitrary JSON", () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(canonicalize(value)).toBe(canonicalizeReference(value));
      }),
      { numRuns: 500 },
    );
  });

  it("does not depend on the order members were inserted in", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== "__proto__"),
          fc.integer(),
        ),
        (record) => {
          const reversed = Object.fromEntries(Object.entries(record).reverse());
          expect(canonicalize(reversed)).toBe(canonicalize(record));
        },
      ),
    );
  });
});
