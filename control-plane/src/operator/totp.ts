import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Time-based one-time passwords: HOTP (RFC 4226) over a time step counter (RFC 6238), written
 * with node:crypto only. Secrets travel as RFC 4648 base32 in an `otpauth://totp/` URI, the
 * form authenticator apps read.
 */
export type TotpAlgorithm = "sha1" | "sha256" | "sha512";

export interface TotpParams {
  readonly algorithm: TotpAlgorithm;
  readonly digits: number;
  /** X in RFC 6238 §4.1: the time step in seconds. */
  readonly stepSeconds: number;
}

/** What apps assume when the URI says nothing else, and what this control plane issues. */
export const DEFAULT_TOTP: TotpParams = { algorithm: "sha1", digits: 6, stepSeconds: 30 };
/** 160 bits: the HMAC-SHA-1 output length RFC 4226 §4 R6 recommends for the shared secret. */
const SECRET_BYTES = 20;

export const newTotpSecret = (): Buffer => randomBytes(SECRET_BYTES);

// RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits.
export function hotp(secret: Uint8Array, counter: bigint, params: TotpParams = DEFAULT_TOTP) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac(params.algorithm, secret).update(message).digest();
  const offset = (mac.at(-1) ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** params.digits).padStart(params.digits, "0");
}

/** RFC 6238 §4.2: T = floor((unix time - T0) / X), T0 = 0. */
export const timeStep = (at: Date, params: TotpParams = DEFAULT_TOTP): bigint =>
  BigInt(Math.floor(at.getTime() / 1000 / params.stepSeconds));

export const totp = (secret: Uint8Array, at: Date, params: TotpParams = DEFAULT_TOTP): string =>
  hotp(secret, timeStep(at, params), params);

/**
 * The time step a code belongs to, within ±`window` steps of `at` (RFC 6238 §5.2 allows one
 * step each way for clock drift and a code typed near the step's end), or undefined. Every
 * candidate is computed and compared in constant time, so timing does not tell which matched.
 * Refusing a code already used (§5.2: "the verifier MUST NOT accept the second attempt of the
 * same OTP") is the caller's: it keeps the last step accepted and passes it as `after`.
 */
export function verifyTotp(
  secret: Uint8Array,
  code: string,
  at: Date,
  options: { window?: number; after?: bigint; params?: TotpParams } = {},
): bigint | undefined {
  const params = options.params ?? DEFAULT_TOTP;
  const window = options.window ?? 1;
  const given = Buffer.from(code.padEnd(params.digits, " ").slice(0, params.digits));
  const current = timeStep(at, params);
  let found: bigint | undefined;
  for (let d = -window; d <= window; d++) {
    const step = current + BigInt(d);
    if (step < 0n) continue;
    const same = timingSafeEqual(Buffer.from(hotp(secret, step, params)), given);
    if (same && code.length === params.digits && found === undefined) found = step;
  }
  if (found === undefined || (options.after !== undefined && found <= options.after)) return;
  return found;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 §6 base32, without padding (authenticator apps take it so). */
export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 §6 base32, case-insensitive, padding optional; undefined for anything else. */
export function base32Decode(text: string): Buffer | undefined {
  const clean = text.toUpperCase().replace(/=+$/, "");
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) return undefined;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

/** The Key Uri Format authenticator apps scan: otpauth://totp/Issuer:account?secret=…&issuer=… */
export function otpauthUri(issuer: string, account: string, secret: Uint8Array): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({
    secret: base32Encode(secret),
    issuer,
    algorithm: DEFAULT_TOTP.algorithm.toUpperCase(),
    digits: String(DEFAULT_TOTP.digits),
    period: String(DEFAULT_TOTP.stepSeconds),
  });
  return `otpauth://totp/${label}?${query.toString()}`;
}
