import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NIX_DIR, secretsTable, tempDir } from "./tools.ts";

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

/** The appliance's secrets table (nix/lib/secrets.nix), which the system reads them by. */
const table = secretsTable();
const tableMode = Number.parseInt(table.mode, 8);
/** root on the ISO; whoever runs the test here. */
const uid = process.getuid?.();

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
    const secrets = join(root, table.dir);
    expect(mode(secrets)).toBe(0o700);
    expect(mode(join(secrets, "enrollment"))).toBe(0o700);
    // Exactly the files the system reads (the table), with the table's mode and owner.
    expect(Object.keys(table.files).length).toBe(4);
    for (const [name, { installed }] of Object.entries(table.files)) {
      expect(installed.startsWith(`${table.dir}/`), name).toBe(true);
      expect(mode(join(root, installed)), name).toBe(tableMode);
      expect(statSync(join(root, installed)).uid, name).toBe(uid);
    }
    expect(tableMode).toBe(0o400);
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

  it("with a SOPS file, stores only the site's age identity, root-only", () => {
    const root = join(tmp.dir, "sops");
    const key = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    const r = spawnSync("bash", [SCRIPT, root, "sops"], { input: `${key}\n`, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const keyFile = join(root, table.ageKeyFile);
    expect(readFileSync(keyFile, "utf8")).toBe(`${key}\n`);
    expect(mode(keyFile)).toBe(tableMode);
    expect(statSync(keyFile).uid).toBe(uid);
    expect(mode(join(root, table.ageKeyFile, ".."))).toBe(0o700);
    // Nothing else is asked for or written: the rest comes from the encrypted file.
    expect(() => statSync(join(root, table.dir))).toThrow();
    const wrong = spawnSync("bash", [SCRIPT, join(tmp.dir, "sops-bad"), "sops"], {
      input: "not-a-key\n",
      encoding: "utf8",
    });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/not an age identity/);
  });
});
