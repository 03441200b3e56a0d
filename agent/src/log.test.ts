import { describe, expect, it } from "vitest";
import { AgentError } from "./errors.ts";
import { errorFields, jsonLogger } from "./log.ts";

describe("agent log lines", () => {
  it("use the control plane's field names: time, level, msg, err and snake_case ids", () => {
    const lines: string[] = [];
    const log = jsonLogger(
      (l) => lines.push(l),
      () => new Date("2026-11-02T03:04:05.000Z"),
    );
    log.log("error", "poll failed", {
      appliance_id: "box-1",
      ...errorFields(new AgentError("unreachable", "connect ECONNREFUSED")),
    });
    log.log("debug", "below the level");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toEqual({
      time: "2026-11-02T03:04:05.000Z",
      level: "error",
      msg: "poll failed",
      appliance_id: "box-1",
      err: { type: "AgentError", code: "unreachable", message: "connect ECONNREFUSED" },
    });
  });

  it("describe an error without its stack or cause", () => {
    const fields = errorFields(new Error("outer", { cause: new Error("secret inner") }));
    expect(fields).toEqual({ err: { type: "Error", message: "outer" } });
    expect(errorFields("plain")).toEqual({ err: { type: "string", message: "plain" } });
  });
});
