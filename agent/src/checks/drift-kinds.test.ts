import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DRIFT_KINDS, type DriftKind, driftExample, injectDrift } from "../host/lab/drift.ts";
import { cleanLabState, createLabHost, writeLabStateFile } from "../host/lab/index.ts";
import { createCheckRunner } from "./runner.ts";
import {
  instantClock,
  labCheckWorld,
  labExpected,
  RESTORE_TEST_DIR,
  repoBaseline,
} from "./testing.ts";

/** Every drift the lab can inject is seen by the check the catalog says observes it. */
const detectable = (Object.keys(DRIFT_KINDS) as DriftKind[]).filter((k) => DRIFT_KINDS[k].detects);

describe("drift kinds of the lab host", () => {
  it.each(detectable)("%s is reported by its check", async (kind) => {
    const { detects } = DRIFT_KINDS[kind];
    if (!detects) throw new Error("unreachable");
    const world = await labCheckWorld({ drifts: [driftExample(kind)], clock: instantClock });
    const result = await world.run(detects.check);
    expect(result.status).toBe("drift");
    expect(result.findings.map((f) => f.code)).toContain(detects.finding);
    const finding = result.findings.find((f) => f.code === detects.finding);
    expect(finding?.subject).toBeTruthy();
    expect(result.citations?.length).toBeGreaterThan(0);
    expect(result.pre_state).toBeDefined();
  });

  it("reset brings a drifted lab back to clean", async () => {
    const world = await labCheckWorld({
      drifts: [{ kind: "service_failed", unit: "sshd.service" }, { kind: "reset" }],
      clock: instantClock,
    });
    expect((await world.runner.runAll(new AbortController().signal)).map((r) => r.status)).toEqual(
      Array(6).fill("pass"),
    );
  });
});

describe("injectDrift", () => {
  const dir = mkdtempSync(join(tmpdir(), "lab-drift-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("changes what a running lab host shows, through its state file", async () => {
    const file = join(dir, "lab-host.json");
    const now = new Date();
    const clean = cleanLabState(now);
    writeLabStateFile(file, clean);
    const host = createLabHost({
      stateFile: file,
      restoreTestDir: RESTORE_TEST_DIR,
      clock: instantClock,
    });
    const runner = createCheckRunner({
      host,
      baseline: await repoBaseline(),
      expected: labExpected(clean),
      restoreTestDir: RESTORE_TEST_DIR,
      clock: instantClock,
      checkTimeoutMs: 5000,
      toolTimeoutMs: 2000,
    });
    const signal = new AbortController().signal;
    expect((await runner.runOne("firewall", signal)).status).toBe("pass");

    injectDrift(file, { kind: "firewall_ssh_exposed" }, now);
    const drifted = await runner.runOne("firewall", signal);
    expect(drifted.status).toBe("drift");
    expect(drifted.findings.map((f) => f.code)).toContain("ssh_exposed");

    injectDrift(file, { kind: "reset" }, now);
    expect((await runner.runOne("firewall", signal)).status).toBe("pass");
  });

  it("refuses a drift that names something the lab does not have, leaving the file as it was", async () => {
    const file = join(dir, "lab-host-2.json");
    writeLabStateFile(file, cleanLabState(new Date()));
    expect(() => injectDrift(file, { kind: "service_stopped", unit: "nope.service" })).toThrow(
      /no unit nope.service/,
    );
    expect(() => injectDrift(file, { kind: "disk_full", mount: "relative" } as never)).toThrow();
    const host = createLabHost({ stateFile: file });
    expect(host.state().units["nope.service"]).toBeUndefined();
  });
});
