import { describe, expect, it } from "vitest";
import { ACTION_NAMES, ACTIONS, type ActionName, actionParamsSchema } from "./actions.ts";
import { PARAM_KINDS } from "./param-kinds.ts";

/**
 * One invalid params fixture per action. Adding an action to the registry without one fails
 * the conformance test below, so every action's schema is proven to reject something.
 */
const INVALID_PARAMS: Record<ActionName, Record<string, unknown>> = {
  "alert.raise": { code: "Disk Full", severity: "high", message: "x" },
  "backup.run": { job: "clinic data" },
  "backup.test_restore": { job: "clinic-data", sample_files: 0 },
  "certificate.renew": { certificate: "/etc/ssl/private/key.pem" },
  "check.finding_absent": { check: "services" },
  "check.finding_present": { check: "antivirus", finding: "virus_found" },
  "check.passes": { check: "firewall", strict: true },
  "journald.vacuum": { max_use: "lots" },
  "nftables.restore_baseline": { ruleset: "/tmp/open.nft" },
  "nix.collect_garbage": { keep: 1 },
  "nixos.generation_available": { generation: "latest" },
  "nixos.rollback": { to: 3 },
  "nixos.switch_generation": { generation: 0 },
  "systemd.reset_failed": { unit: "sshd" },
  "systemd.restart": { unit: "sshd.service; reboot" },
  "systemd.start": {},
  "systemd.unit_active": { unit: 42 },
};

describe("the action registry (conformance)", () => {
  it("is sorted, so additions land in one obvious place", () => {
    expect(ACTION_NAMES).toEqual([...ACTION_NAMES].sort());
  });

  it("has an invalid-params fixture for exactly its actions", () => {
    expect(Object.keys(INVALID_PARAMS).sort()).toEqual(ACTION_NAMES);
  });

  it.each(ACTION_NAMES)("%s has a description, a schema, and an example it accepts", (name) => {
    const spec = ACTIONS[name];
    expect(spec.description.length).toBeGreaterThan(20);
    expect(/^[a-z]+\.[a-z_]+$/.test(name)).toBe(true);
    for (const kind of Object.values(spec.params)) expect(PARAM_KINDS).toHaveProperty(kind);
    expect(actionParamsSchema(name).safeParse(spec.example).success).toBe(true);
  });

  it.each(ACTION_NAMES)("%s rejects its invalid fixture", (name) => {
    expect(actionParamsSchema(name).safeParse(INVALID_PARAMS[name]).success).toBe(false);
  });

  it("only lets nixos switches be disruptive, and keeps observers read-only", () => {
    const disruptive = ACTION_NAMES.filter((name) => ACTIONS[name].disruptive);
    expect(disruptive).toEqual(["nixos.rollback", "nixos.switch_generation"]);
    for (const name of ACTION_NAMES.filter((n) => n.startsWith("check."))) {
      expect(ACTIONS[name].effect).toBe("read_only");
    }
    expect(ACTIONS["alert.raise"].effect).toBe("notify");
  });
});
