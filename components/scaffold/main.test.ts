import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readStackFile } from "./stack-file.ts";

/** `npm run new-client` as the operator runs it: a real child process, flags or answers on stdin. */
const MAIN = join(import.meta.dirname, "main.ts");
const dir = mkdtempSync(join(tmpdir(), "msp-new-client-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], input = "") =>
  spawnSync(process.execPath, [MAIN, "--stacks-dir", dir, ...args], {
    input,
    encoding: "utf8",
    timeout: 20_000,
  });

const FLAGS = [
  "--name",
  "Riverside Family Clinic",
  "--slug",
  "riverside",
  "--mac",
  "52:54:00:12:34:56",
  "--mac",
  "52-54-00-AB-CD-EF",
  "--zone",
  "clinics.example.net",
  "--zone-id",
  "0123456789abcdef0123456789abcdef",
  "--no-input",
];

describe("new-client", () => {
  it("names a --stacks-dir that does not exist instead of failing with ENOENT", () => {
    const missing = join(dir, "no-such-folder");
    const result = spawnSync(process.execPath, [MAIN, "--stacks-dir", missing, ...FLAGS], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`--stacks-dir: ${missing} is not a folder`);
    expect(result.stderr).not.toContain("ENOENT");
  });

  it("writes a stack file the program accepts and prints the exact next commands", () => {
    const result = run(FLAGS);
    expect(result.status, result.stderr).toBe(0);
    const text = readFileSync(join(dir, "Pulumi.riverside.yaml"), "utf8");
    expect(readStackFile(text, "riverside")).toMatchObject({
      kind: "tenant",
      clientName: "Riverside Family Clinic",
      clientSlug: "riverside",
      applianceMacs: ["52:54:00:12:34:56", "52:54:00:ab:cd:ef"],
      centralStack: "organization/msp-compliance/central",
      applianceId: "appliance-1",
    });
    expect(text).toContain('aws:region: "us-east-1"');
    expect(text).toContain('- "52:54:00:12:34:56"'); // quoted: never a YAML 1.1 base-60 number
    expect(result.stdout).toContain("pulumi stack init riverside\n");
    expect(result.stdout).toContain(
      "npm exec -- pulumi up --stack riverside --policy-pack components/policy-pack\n",
    );
    expect(result.stdout).toContain(
      "pulumi stack output --stack riverside enrollmentToken --show-secrets\n",
    );
  });

  it("never overwrites an existing stack (exit 1, file unchanged)", () => {
    const file = join(dir, "Pulumi.riverside.yaml");
    writeFileSync(file, "config: {}\n");
    const result = run(FLAGS);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("exists: a stack is never overwritten");
    expect(readFileSync(file, "utf8")).toBe("config: {}\n");
  });

  it.each([
    [["--slug", "River Side"], "--slug: use 1-63 lower-case letters, digits and inner hyphens"],
    [["--mac", "52:54:00:12:34"], "--mac: use lower-case aa:bb:cc:dd:ee:ff"],
    [["--zone-id", "nope"], "--zone-id: expected the 32-hex-digit zone id"],
    [["--aws-region", "mars"], "--aws-region: expected an AWS region"],
    [["--bogus", "x"], "Unknown option '--bogus'"],
  ])("refuses %j with exit 2 and the flag's name", (bad, message) => {
    const flags = [...FLAGS];
    const at = flags.indexOf(bad[0] as string);
    if (at >= 0 && bad[1] !== undefined) flags.splice(at, 2, ...bad);
    else flags.push(...bad);
    const result = run(flags.map((f) => (f === "riverside" ? "lakeside" : f)));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("asks for what the flags did not give, re-asks an invalid answer, takes defaults", () => {
    const answers = [
      "Lakeside Pediatrics",
      "Lake Side", // refused
      "lakeside",
      "52:54:00:00:00:01, 52:54:00:00:00:02",
      "clinics.example.net",
      "0123456789abcdef0123456789abcdef",
      "", // central stack: default
      "", // appliance id: default
      "eu-central-1",
    ].join("\n");
    const result = run([], `${answers}\n`);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("Slug (tenant id");
    expect(result.stderr).toContain("use 1-63 lower-case letters");
    const parsed = readStackFile(
      readFileSync(join(dir, "Pulumi.lakeside.yaml"), "utf8"),
      "lakeside",
    );
    expect(parsed).toMatchObject({
      clientName: "Lakeside Pediatrics",
      applianceMacs: ["52:54:00:00:00:01", "52:54:00:00:00:02"],
      centralStack: "organization/msp-compliance/central",
    });
  });

  it("fails with exit 2 naming the flag when stdin ends before an answer", () => {
    const result = run(["--name", "Hillside Dental"], "hillside\n");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--mac is missing (stdin ended before an answer)");
  });
});
