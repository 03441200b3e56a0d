import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTROL_PLANE_ADDRESS, OTHER_ADDRESS, testSettings } from "./test-settings.ts";
import { renderAppliance, run, tempDir, writeFiles } from "./tools.ts";

/**
 * The rendered ruleset loaded into a real kernel: two network namespaces joined by a veth pair,
 * the "appliance" side with the module's ruleset, the "internet" side answering TCP on the
 * control plane's address and on one that is not allowlisted. Needs root (CI runs as root).
 */
const tag = `${process.pid % 100_000}`;
const appliance = `ca-app-${tag}`;
const internet = `ca-net-${tag}`;
const tmp = tempDir("nix-netns-");
let server: ChildProcess | undefined;

function ip(...args: string[]) {
  const result = run(["ip", ...args]);
  if (result.code !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
}

/** Connect from the appliance namespace; "connected" or the error code (a drop times out). */
function probe(address: string): string {
  const script = `
    const s = require("node:net").connect({ host: ${JSON.stringify(address)}, port: 443 });
    s.setTimeout(1500, () => { process.stdout.write("timeout"); process.exit(0); });
    s.on("connect", () => { process.stdout.write("connected"); process.exit(0); });
    s.on("error", (e) => { process.stdout.write(e.code); process.exit(0); });`;
  return run(["ip", "netns", "exec", appliance, process.execPath, "-e", script]).stdout;
}

function loadRuleset(ruleset: string): void {
  const [path = ""] = writeFiles(tmp.dir, { [`ruleset-${Date.now()}.nft`]: ruleset });
  const result = run(["ip", "netns", "exec", appliance, "nft", "-f", path]);
  if (result.code !== 0) throw new Error(`nft -f: ${result.stderr}`);
}

beforeAll(async () => {
  ip("netns", "add", appliance);
  ip("netns", "add", internet);
  ip(
    "link",
    "add",
    `veth-a${tag}`,
    "netns",
    appliance,
    "type",
    "veth",
    "peer",
    "name",
    `veth-n${tag}`,
    "netns",
    internet,
  );
  ip("-n", appliance, "addr", "add", "192.0.2.2/24", "dev", `veth-a${tag}`);
  ip("-n", internet, "addr", "add", `${CONTROL_PLANE_ADDRESS}/24`, "dev", `veth-n${tag}`);
  ip("-n", internet, "addr", "add", `${OTHER_ADDRESS}/24`, "dev", `veth-n${tag}`);
  for (const ns of [appliance, internet]) {
    ip("-n", ns, "link", "set", "lo", "up");
  }
  ip("-n", appliance, "link", "set", `veth-a${tag}`, "up");
  ip("-n", internet, "link", "set", `veth-n${tag}`, "up");
  server = spawn(
    "ip",
    [
      "netns",
      "exec",
      internet,
      process.execPath,
      "-e",
      `require("node:net").createServer((c) => c.end()).listen(443, "0.0.0.0", () => process.stdout.write("up"));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    server?.stdout?.once("data", () => resolve());
    server?.once("exit", (code) => reject(new Error(`listener exited ${code}`)));
  });
});

afterAll(() => {
  server?.kill("SIGKILL");
  for (const ns of [appliance, internet]) run(["ip", "netns", "del", ns]);
  tmp.remove();
});

describe("the egress ruleset in a network namespace", () => {
  it("without a ruleset both addresses answer (the setup itself works)", () => {
    expect(probe(CONTROL_PLANE_ADDRESS)).toBe("connected");
    expect(probe(OTHER_ADDRESS)).toBe("connected");
  });

  it("with the module's ruleset the control plane answers and the other address is blocked", () => {
    loadRuleset(renderAppliance(testSettings(tmp.dir)).ruleset);
    expect(probe(CONTROL_PLANE_ADDRESS)).toBe("connected");
    expect(probe(OTHER_ADDRESS)).not.toBe("connected");
    // The loaded ruleset is the rendered one: its output policy is drop.
    const listed = run(["ip", "netns", "exec", appliance, "nft", "-j", "list", "ruleset"]);
    const chains = JSON.parse(listed.stdout).nftables.filter((e: { chain?: unknown }) => e.chain);
    expect(
      chains.map((e: { chain: { name: string; policy: string } }) => [
        e.chain.name,
        e.chain.policy,
      ]),
    ).toEqual([
      ["input", "drop"],
      ["forward", "drop"],
      ["output", "drop"],
    ]);
  });

  it("a ruleset that allowlists too much lets the other address through (the probe can fail)", () => {
    const settings = testSettings(tmp.dir);
    const loose = renderAppliance({
      ...settings,
      egressAllowlist: [
        ...settings.egressAllowlist,
        { address: OTHER_ADDRESS, protocol: "tcp", ports: [443], purpose: "other" },
      ],
    });
    loadRuleset(loose.ruleset);
    expect(probe(OTHER_ADDRESS)).toBe("connected");
  });
});
