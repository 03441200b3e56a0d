import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/**
 * Operator passwords: scrypt (RFC 7914), N=2^15, r=8, p=1, 32-byte salt and key, in a
 * self-describing string so parameters can be raised later: "scrypt$N$r$p$salt$hash".
 */
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;
const MAX_MEM = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_LEN,
      { N: n, r, p, maxmem: MAX_MEM },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(32);
  const key = await derive(password, salt, N, R, P);
  return ["scrypt", N, R, P, salt.toString("base64"), key.toString("base64")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split("$");
  if (kind !== "scrypt" || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const key = await derive(password, Buffer.from(salt, "base64"), Number(n), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A dummy hash to verify against when the user does not exist (same cost: no user probing). */
export const DUMMY_HASH = `scrypt$${N}$${R}$${P}$${Buffer.alloc(32).toString("base64")}$${Buffer.alloc(32).toString("base64")}`;

export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}
