import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
let dir: string | undefined;

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * The lab end to end: the lab (npm start) runs for a short accelerated period; then,
 * from the outside only (its files, its SQLite database, poppler and the verifier's CLI), the
 * packet PDF exists, renders, states the counts that are in the store, and the evidence exports
 * verify.
 */
it("the lab (npm start) runs two agents end to end and produces a packet that matches the store", async () => {
  dir = await mkdtemp(join(tmpdir(), "msp-lab-test-"));
  const { stdout } = await run(
    process.execPath,
    [join(root, "scripts", "lab.ts"), "--data-dir", dir],
    { cwd: root, timeout: 150_000 },
  );
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toMatch(/^\[lab\] LAB MODE/);
  expect(stdout).toMatch(/control plane \(SQLite\) at https:\/\/127\.0\.0\.1:\d+/);
  expect(stdout).toMatch(/agent enrolled; evidence key fingerprint [0-9a-f]{16}/);
  expect(stdout).toMatch(/second agent \(lab-clinic-02\) enrolled/);
  expect(stdout).toMatch(/order 1 RB-SERVICE-001-crash \{"unit":"chronyd.service"\} → succeeded/);
  expect(stdout).toMatch(/order 2 RB-NOPE-001-unknown \{\} → rejected/);
  expect(stdout).toMatch(
    /checks: patching pass, services pass, backups pass, firewall pass, logging pass, encryption pass/,
  );
  expect(stdout).toMatch(/firewall check: drift ssh_exposed at rule inet filter input #5/);
  expect(stdout).toMatch(/healer: L1 rule → RB-FIREWALL-001-drift → healed/);
  expect(stdout).toMatch(
    /healer \(lab-clinic-01\): services drift → L1 RB-SERVICE-001-crash → healed/,
  );
  expect(stdout).toMatch(
    /healer \(lab-clinic-02\): backups drift → L1 RB-BACKUP-001-failure → healed/,
  );
  expect(stdout).toMatch(
    /healer \(lab-clinic-02\): patching drift → L1 RB-PATCH-001-generation → reverted/,
  );
  expect(stdout).toMatch(
    /incident [0-9a-f]{8} \(patching, rolled back on lab-clinic-02\) → L3 queue/,
  );
  expect(stdout).toMatch(/chain intact from genesis/);
  expect(stdout).toMatch(/after rewriting bundle 2, detected bad_signature at seq 2/);
  expect(stdout).toMatch(/NOT WORM: lab only/);
  expect(stdout).toMatch(/dashboard: https:\/\/127\.0\.0\.1:\d+\/dashboard/);
  expect(stdout).toMatch(
    /admin login: lab-operator \/ \S{12,} \(TOTP secret, base32: [A-Z2-7]{32}\)/,
  );
  expect(stdout).toMatch(/operator login: lab-technician \/ \S{12,} \(lab-clinic only\)/);
  expect(stdout).toMatch(/viewer login: lab-office-manager \/ \S{12,} \(lab-clinic only\)/);
  expect(stdout).toMatch(/auditor login: lab-auditor \/ \S{12,} \(lab-clinic only\)/);

  // The packet, from the outside.
  const pdf = stdout.match(/\[lab\] packet: (\S+packet\.pdf)$/m)?.[1];
  expect(pdf).toBeDefined();
  const pdfPath = pdf as string;
  expect((await readFile(pdfPath)).subarray(0, 5).toString()).toBe("%PDF-");
  const prefix = join(dir, "page");
  // -singlefile: one page, named without the page number pdftoppm pads to the page count.
  await run("pdftoppm", ["-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile", pdfPath, prefix]);
  const png = await readFile(`${prefix}.png`);
  expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  const { stdout: text } = await run("pdftotext", ["-layout", pdfPath, "-"]);
  const figure = (name: string) => Number(text.match(new RegExp(`${name}\\s+(\\d+)`))?.[1]);

  // The store, read directly: the evidence the control plane received this month.
  // packets/<tenant>/<month>/v<version>/packet.pdf
  const month = pdfPath.match(/\/(\d{4}-\d{2})\/v\d+\/packet\.pdf$/)?.[1] as string;
  expect(month).toBeDefined();
  const db = new DatabaseSync(join(dir, "control-plane", "control-plane.sqlite"), {
    readOnly: true,
  });
  try {
    const from = `${month}-01T00:00:00`;
    const rows = db
      .prepare("SELECT bundle_json FROM evidence WHERE tenant_id = ? AND received_at >= ?")
      .all("lab-clinic", from) as { bundle_json: string }[];
    const kinds = rows.map(
      (r) => (JSON.parse(r.bundle_json) as { event: { kind: string } }).event.kind,
    );
    const incidents = db
      .prepare("SELECT count(*) AS n FROM incidents WHERE tenant_id = ?")
      .get("lab-clinic") as { n: number };
    expect(rows.length).toBeGreaterThan(40);
    expect(figure("Evidence bundles")).toBe(rows.length);
    expect(figure("Check results")).toBe(kinds.filter((k) => k === "check_result").length);
    expect(figure("Healing attempts \\(all tiers\\)")).toBe(
      kinds.filter((k) => k === "healing_attempt").length,
    );
    expect(figure("Incidents")).toBe(incidents.n);
    expect(incidents.n).toBeGreaterThanOrEqual(1);
  } finally {
    db.close();
  }
  expect(text).toContain("RB-PATCH-001-generation");
  expect(text).toMatch(/lab-clinic-01\s+\d+\s+1\.\.\d+\s+verified/);
  expect(text).toMatch(/lab-clinic-02\s+\d+\s+1\.\.\d+\s+verified/);
  expect(text).toContain("NOT WORM");

  // The verifier's own CLI (npm run verify-export) accepts each evidence export.
  const exports = [...stdout.matchAll(/auditor: export (\S+):/g)].map((m) => m[1] as string);
  expect(exports).toHaveLength(2);
  for (const exportDir of exports) {
    const pinsFile = stdout.match(/auditor: pins from the appliances themselves in (\S+)/)?.[1];
    expect(pinsFile).toBeDefined();
    const verified = await run(
      process.execPath,
      [join(root, "verifier", "main.ts"), exportDir, "--pins", pinsFile as string],
      { cwd: root },
    );
    expect(verified.stdout).not.toMatch(/UNPINNED/);
    expect(verified.stdout).toMatch(/OK: every signature, link, checkpoint and proof verifies/);
  }
}, 170_000);
