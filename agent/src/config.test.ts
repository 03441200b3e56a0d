import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.ts";
import { AgentError } from "./errors.ts";

const valid = {
  control_plane_url: "https://cp.example.net",
  order_signing_public_key: `${"C".repeat(42)}E=`,
  ca_bundle_path: "/etc/compliance-agent/ca.pem",
  state_dir: "/var/lib/compliance-agent",
  evidence_key_path: "/var/lib/compliance-agent/evidence-key.pem",
  tls_key_path: "/var/lib/compliance-agent/tls-key.pem",
};

describe("agent config", () => {
  it("accepts the minimal file and fills the documented defaults", () => {
    const config = parseConfig(valid);
    // The poll period comes from the control plane's signed settings unless overridden here.
    expect(config.poll_interval_s).toBeUndefined();
    expect(config).toMatchObject({
      max_backoff_s: 900,
      journal_max_mb: 1024,
      retention_days: 30,
      shutdown_timeout_s: 20,
    });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ["an unknown field (a typo)", { poll_intervall_s: 30 }, /\(top level\).*poll_intervall_s/s],
    [
      "plain http",
      { control_plane_url: "http://cp.example.net" },
      /control_plane_url: use an https/,
    ],
    ["a relative path", { state_dir: "state" }, /state_dir: use an absolute path/],
    [
      "a PEM instead of a raw key",
      { order_signing_public_key: "-----BEGIN" },
      /order_signing_public_key/,
    ],
    ["a jitter over 50 %", { poll_jitter: 0.9 }, /poll_jitter/],
    ["a missing field", { tls_key_path: undefined }, /tls_key_path/],
  ])("refuses %s and names the field", (_name, change, message) => {
    const parse = () => parseConfig({ ...valid, ...change }, {}, "/etc/agent.json");
    expect(parse).toThrow(AgentError);
    expect(parse).toThrow(message);
    expect(parse).toThrow(/^\/etc\/agent\.json is invalid/);
  });

  it("takes only secret file paths from the environment, and says so in errors", () => {
    const env = {
      COMPLIANCE_AGENT_TLS_KEY_PATH: "/run/credentials/agent/tls-key.pem",
      COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH: "relative/token",
      COMPLIANCE_AGENT_CONTROL_PLANE_URL: "https://evil.example",
    };
    expect(() => parseConfig(valid, env)).toThrow(
      /enrollment_token_path \(from COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH\)/,
    );
    const config = parseConfig(valid, { ...env, COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH: "" });
    expect(config.tls_key_path).toBe("/run/credentials/agent/tls-key.pem");
    expect(config.control_plane_url).toBe("https://cp.example.net");
  });
});
