import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { TENANT_CONFIG } from "./testing/configs.ts";
import { startEngineService } from "./testing/fake-engine/engine.ts";
import { runnerPath } from "./testing/fake-engine/grpc.ts";
import { startFakeMonitor } from "./testing/fake-engine/monitor.ts";

/**
 * The program under Pulumi's own Node.js host, `@pulumi/pulumi/cmd/run`, started with the
 * arguments and environment the language host gives it (monitor, engine, project, stack, pwd,
 * `--dry-run` for a preview, the entry point from Pulumi.yaml, the config as PULUMI_CONFIG),
 * against the fake resource monitor.
 */
const root = resolve(import.meta.dirname, "..");

async function runHost(dryRun: boolean) {
  const engine = await startEngineService();
  const monitor = await startFakeMonitor({ stack: "riverside", project: "msp-compliance", dryRun });
  try {
    const args = [
      runnerPath("cmd/run"),
      "--monitor",
      monitor.address,
      "--engine",
      engine.address,
      "--organization",
      "organization",
      "--project",
      "msp-compliance",
      "--root-directory",
      root,
      "--stack",
      "riverside",
      "--pwd",
      root,
      ...(dryRun ? ["--dry-run"] : []),
      "--parallel",
      "16",
      "components/main.ts",
    ];
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(TENANT_CONFIG),
        PULUMI_CONFIG_SECRET_KEYS: "[]",
        MSP_ADMIN_TOKEN: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      out += c;
    });
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    return { code, out, registrations: monitor.registrations, logs: engine.logs };
  } finally {
    await monitor.close();
    await engine.close();
  }
}

describe("the tenant program under Pulumi's language host", () => {
  it.each([
    ["preview", true],
    ["update", false],
  ])(
    "runs a %s and registers the tenant tree",
    async (_what, dryRun) => {
      const run = await runHost(dryRun);
      expect(run.code, `${run.out}\n${run.logs.map((l) => l.message).join("\n")}`).toBe(0);
      const types = run.registrations.map((r) => r.type);
      expect(types).toEqual(
        expect.arrayContaining([
          "pulumi:pulumi:Stack",
          "msp:tenant:ClientTenant",
          "msp:tenant:EvidenceVault",
          "aws:s3/bucket:Bucket",
          "pulumi-nodejs:dynamic/msp:ApplianceEnrollment",
        ]),
      );
      const bucket = run.registrations.find((r) => r.name === "riverside-vault-bucket");
      expect(bucket?.protect).toBe(true);
      const enrollment = run.registrations.find((r) => r.name === "riverside-enrollment");
      expect(String(enrollment?.inputs.__provider)).toContain("exports.handler");
    },
    120_000,
  );
});
