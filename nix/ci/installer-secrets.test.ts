import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NIX_DIR, tempDir } from "./tools.ts";

/**
 * The installer's secrets step (nix/installer-secrets.sh), run against a temporary root: every
 * secret the appliance's units read is written root-only (files 0600, folders 0700, owned by the
 * installing user, root on the ISO), a skipped token leaves the token's folder empty (the unit
 * loads the folder), and the break-glass hash verifies the password.
 */
const SCRIPT = join(NIX_DIR, "installer-secrets.sh");
const tmp = tempDir("installer-secrets-");
afterAll(tmp.remove);

function install(root: string, answers: string[]) {
  return spawnSync("bash", [SCRIPT, root], { input: `${answers.join("\n")}\n`, encoding: "utf8" });
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("the installer's secrets", () => {
  it("writes every secret root-only, outside the store", () => {
    const root = join(tmp.dir, "with-token");
    const r = install(root, [
      "correct horse battery",
      "correct horse battery",
      "enroll-token-123",
      "restic-pass",
      "AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
      "AWS_SECRET_ACCESS_KEY=secret",
      "",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const secrets = join(root, "var/lib/compliance-agent-secrets");
    expect(mode(secrets)).toBe(0o700);
    expect(mode(join(secrets, "enrollment"))).toBe(0o700);
    for (const file of [
      "breakglass-password-hash",
      "enrollment/token",
      "restic-password",
      "restic-env",
    ]) {
      expect(mode(join(secrets, file)), file).toBe(0o600);
      expect(statSync(join(secrets, file)).uid, file).toBe(process.getuid?.());
    }
    expect(readFileSync(join(secrets, "enrollment/token"), "utf8")).toBe("enroll-token-123");
    expect(readFileSync(join(secrets, "restic-password"), "utf8")).toBe("restic-pass");
    expect(readFileSync(join(secrets, "restic-env"), "utf8")).toBe(
      "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=secret\n",
    );
    const hash = readFileSync(join(secrets, "breakglass-password-hash"), "utf8");
    expect(hash).toMatch(/^\$6\$[^$]+\$[./0-9A-Za-z]+$/);
    const salt = hash.split("$")[2] ?? "";
    const again = spawnSync("openssl", ["passwd", "-6", "-salt", salt, "-stdin"], {
      input: "correct horse battery",
      encoding: "utf8",
    });
    expect(again.stdout.trim()).toBe(hash);
  });

  it("leaves the token's folder empty when the token is skipped", () => {
    const root = join(tmp.dir, "no-token");
    const r = install(root, ["long enough pw", "long enough pw", "", "restic-pass", ""]);
    expect(r.status, r.stderr).toBe(0);
    const folder = join(root, "var/lib/compliance-agent-secrets/enrollment");
    expect(mode(folder)).toBe(0o700);
    expect(() => statSync(join(folder, "token"))).toThrow();
  });

  it("refuses a short or mistyped break-glass password and asks again", () => {
    const root = join(tmp.dir, "retry");
    const r = install(root, [
      "short",
      "short",
      "long enough pw",
      "different",
      "long enough pw",
      "long enough pw",
      "",
      "p",
      "",
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.match(/Not accepted/g)).toHaveLength(2);
  });

  it("requires the restic password", () => {
    const r = install(join(tmp.dir, "no-restic"), ["long enough pw", "long enough pw", "", "", ""]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/restic password is required/);
  });
});
