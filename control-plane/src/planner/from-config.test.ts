import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, PlannerConfig } from "../config.ts";
import { silentLogger } from "../logger.ts";
import { plannerDeps } from "./from-config.ts";

const dir = mkdtempSync(join(tmpdir(), "cp-planner-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("planner configuration", () => {
  it("defaults to L3 only, with the shipped catalog", async () => {
    const config = loadConfig({ dataDir: dir });
    expect(config.planner).toMatchObject({
      blast_radius_per_hour: 20,
      flywheel_min_successes: 5,
      kill_switch: false,
    });
    const deps = await plannerDeps(config.planner, undefined, {}, silentLogger);
    expect(deps.llm).toBeUndefined();
    expect(deps.catalog?.runbooks.length).toBeGreaterThan(0);
  });

  it("reads the API key from a file or a named environment variable, never from the config", async () => {
    const keyFile = join(dir, "llm.key");
    writeFileSync(keyFile, "sk-from-file\n");
    const base = { base_url: "http://127.0.0.1:8080/v1", model: "local" };
    const fromFile = await plannerDeps(
      PlannerConfig.parse({ llm: { ...base, api_key_file: keyFile } }),
      undefined,
      {},
      silentLogger,
    );
    expect(fromFile.llm?.model).toBe("local");
    await expect(
      plannerDeps(
        PlannerConfig.parse({ llm: { ...base, api_key_env: "CP_TEST_LLM_KEY" } }),
        undefined,
        {},
        silentLogger,
      ),
    ).rejects.toMatchObject({ name: "ControlPlaneError", code: "invalid_config" });
    expect(PlannerConfig.safeParse({ llm: { ...base, api_key: "sk-inline" } }).success).toBe(false);
  });

  it("refuses a short webhook secret and an unknown key, naming the field", async () => {
    const secret = join(dir, "hook.secret");
    writeFileSync(secret, "short");
    await expect(
      plannerDeps(
        PlannerConfig.parse({
          webhook: { url: "https://ops.example.net/hook", secret_file: secret },
        }),
        undefined,
        {},
        silentLogger,
      ),
    ).rejects.toThrow(/secret_file/);
    const bad = PlannerConfig.safeParse({ blast_radius: 3 });
    expect(bad.success).toBe(false);
  });
});
