import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildJsonSchemas, JSON_SCHEMA_DIR } from "./json-schema.ts";
import { REPO_ROOT } from "./test-support.ts";

const dir = join(REPO_ROOT, JSON_SCHEMA_DIR);

describe("editor JSON Schemas", () => {
  const built = buildJsonSchemas();

  it("are committed for exactly the generated files", () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(built).sort());
  });

  it.each(Object.keys(built))("%s is up to date (else run npm run catalog:schemas)", (file) => {
    expect(readFileSync(join(dir, file), "utf8")).toBe(built[file]);
  });

  it("give editors one branch per action, with typed params", () => {
    const runbook = JSON.parse(built["runbook.schema.json"] ?? "{}");
    expect(JSON.stringify(runbook)).toContain('"const":"systemd.restart"');
  });

  it.each([
    ["baseline/hipaa-v1.yaml", "../catalog/json-schema/baseline.schema.json"],
    ["baseline/exceptions/example-dental.yaml", "../../catalog/json-schema/exceptions.schema.json"],
    ["runbooks/RB-DISK-001-full.yaml", "../catalog/json-schema/runbook.schema.json"],
  ])("%s points editors at its schema", (file, schema) => {
    const first = readFileSync(join(REPO_ROOT, file), "utf8").split("\n")[0];
    expect(first).toBe(`# yaml-language-server: $schema=${schema}`);
  });
});
