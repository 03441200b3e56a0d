import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findTimingViolations } from "./constant-time.ts";
import { readRepositorySources } from "./import-boundaries.ts";

const root = join(import.meta.dirname, "..");
const check = (file: string, text: string) =>
  findTimingViolations(new Map([[file, text]])).map((v) => v.text);

describe("constant-time comparison of secrets", () => {
  it("holds across the repository's shipped code", () => {
    const files = readRepositorySources(root);
    expect(files.has("control-plane/src/middleware/operator-session/index.ts")).toBe(true);
    expect(findTimingViolations(files)).toEqual([]);
  });

  it.each([
    ["a CSRF hash with !==", "if (hashSecret(token) !== session.csrfHash) deny();"],
    ["a token hash with ===", "const ok = reg.tokenHash === hash;"],
    ["an admin token", "if (bearer == adminToken) allow();"],
    ["a MAC with Buffer#equals", "if (!expectedHmac.equals(received)) deny();"],
    ["a secret passed to equals", "if (a.equals(secretBytes)) allow();"],
  ])("names %s", (_what, line) => {
    expect(check("control-plane/src/x.ts", line)).toHaveLength(1);
  });

  it.each([
    ["timingSafeEqual", "const ok = constantTimeEqual(reg.tokenHash, hash);"],
    ["a presence check", "if (reg.tokenHash === null || token !== undefined) return;"],
    ["a type check", 'if (typeof form.csrf === "string") use(form.csrf);'],
    ["when a token was used", "const used = a.tokenUsedAt !== b.tokenUsedAt;"],
    [
      "a waived name",
      "// constant-time: not a secret (a lexer token)\nif (textOf === token) found = true;",
    ],
  ])("passes %s", (_what, line) => {
    expect(check("control-plane/src/x.ts", line)).toEqual([]);
  });

  it("reads only shipped code: tests and test helpers may compare freely", () => {
    const line = "expect(token === other).toBe(true);";
    expect(check("control-plane/src/x.test.ts", line)).toEqual([]);
    expect(check("agent/src/testing/x.ts", line)).toEqual([]);
  });
});
