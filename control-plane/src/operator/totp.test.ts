import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  base32Decode,
  base32Encode,
  hotp,
  otpauthUri,
  type TotpAlgorithm,
  totp,
  verifyTotp,
} from "./totp.ts";

// RFC 6238 Appendix B: the seeds are the ASCII digits repeated to the hash's key length.
const SEEDS: Record<TotpAlgorithm, Buffer> = {
  sha1: Buffer.from("12345678901234567890"),
  sha256: Buffer.from("12345678901234567890123456789012"),
  sha512: Buffer.from("1234567890123456789012345678901234567890123456789012345678901234"),
};
const VECTORS: [number, TotpAlgorithm, string][] = [
  [59, "sha1", "94287082"],
  [59, "sha256", "46119246"],
  [59, "sha512", "90693936"],
  [1111111109, "sha1", "07081804"],
  [1111111109, "sha256", "68084774"],
  [1111111109, "sha512", "25091201"],
  [1111111111, "sha1", "14050471"],
  [1111111111, "sha256", "67062674"],
  [1111111111, "sha512", "99943326"],
  [1234567890, "sha1", "89005924"],
  [1234567890, "sha256", "91819424"],
  [1234567890, "sha512", "93441116"],
  [2000000000, "sha1", "69279037"],
  [2000000000, "sha256", "90698825"],
  [2000000000, "sha512", "38618901"],
  [20000000000, "sha1", "65353130"],
  [20000000000, "sha256", "77737706"],
  [20000000000, "sha512", "47863826"],
];

describe("TOTP (RFC 6238)", () => {
  it.each(VECTORS)("Appendix B: T=%i %s → %s", (seconds, algorithm, expected) => {
    const params = { algorithm, digits: 8, stepSeconds: 30 };
    expect(totp(SEEDS[algorithm], new Date(seconds * 1000), params)).toBe(expected);
  });

  it("RFC 4226 Appendix D: HOTP values of the same SHA-1 secret, 6 digits", () => {
    const expected = [
      ...["755224", "287082", "359152", "969429", "338314"],
      ...["254676", "287922", "162583", "399871", "520489"],
    ];
    expected.forEach((code, counter) => {
      expect(hotp(SEEDS.sha1, BigInt(counter))).toBe(code);
    });
  });

  it("accepts one step either side, not two, and never a step at or before the last used", () => {
    const secret = SEEDS.sha1;
    const at = new Date(1_700_000_015_000);
    const step = BigInt(Math.floor(at.getTime() / 30_000));
    const codeAt = (d: number) => hotp(secret, step + BigInt(d));
    expect(verifyTotp(secret, codeAt(0), at)).toBe(step);
    expect(verifyTotp(secret, codeAt(-1), at)).toBe(step - 1n);
    expect(verifyTotp(secret, codeAt(1), at)).toBe(step + 1n);
    expect(verifyTotp(secret, codeAt(-2), at)).toBeUndefined();
    expect(verifyTotp(secret, codeAt(2), at)).toBeUndefined();
    // Replay: the step of the code was already used.
    expect(verifyTotp(secret, codeAt(0), at, { after: step })).toBeUndefined();
    expect(verifyTotp(secret, codeAt(-1), at, { after: step - 1n })).toBeUndefined();
    expect(verifyTotp(secret, codeAt(1), at, { after: step })).toBe(step + 1n);
    // Not six digits.
    expect(verifyTotp(secret, `${codeAt(0)}0`, at)).toBeUndefined();
    expect(verifyTotp(secret, codeAt(0).slice(0, 5), at)).toBeUndefined();
  });

  it("base32 (RFC 4648 §10 test vectors) and its round trip", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "MY"],
      ["fo", "MZXQ"],
      ["foo", "MZXW6"],
      ["foob", "MZXW6YQ"],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI"],
    ];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(Buffer.from(plain))).toBe(encoded);
      expect(base32Decode(encoded)?.toString()).toBe(plain);
    }
    expect(base32Decode("MZXW6===")?.toString()).toBe("foo");
    expect(base32Decode("mzxw6")?.toString()).toBe("foo");
    expect(base32Decode("MZ1W")).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(base32Decode(base32Encode(bytes))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it("writes the otpauth URI apps scan", () => {
    const uri = new URL(otpauthUri("MSP Compliance", "ada", Buffer.from("foobar")));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe("/MSP Compliance:ada");
    expect(uri.searchParams.get("secret")).toBe("MZXW6YTBOI");
    expect(uri.searchParams.get("issuer")).toBe("MSP Compliance");
    expect(uri.searchParams.get("digits")).toBe("6");
    expect(uri.searchParams.get("period")).toBe("30");
  });
});
