/**
 * The bundles the flake takes from the repository as committed files, because the Nix sandbox
 * has no npm and the lockfile records no download URLs: the agent (packages.compliance-agent)
 * and the VM tests' scenario control plane. bundles.test.ts fails when either is not exactly
 * what its sources build to, naming the command that refreshes it.
 *   npm run nix:vm-driver    (the agent's own: npm run build:agent)
 */
import { join } from "node:path";
import { bundleAgentEntry } from "../../scripts/build-agent.ts";

const root = join(import.meta.dirname, "..", "..");

export const COMMITTED_BUNDLES = [
  {
    name: "agent/dist/agent.mjs",
    entry: join(root, "agent", "src", "main.ts"),
    committed: join(root, "agent", "dist", "agent.mjs"),
    refresh: "npm run build:agent",
  },
  {
    name: "nix/tests/dist/scenario-control-plane.mjs",
    entry: join(root, "nix", "tests", "scenario-control-plane.ts"),
    committed: join(root, "nix", "tests", "dist", "scenario-control-plane.mjs"),
    refresh: "npm run nix:vm-driver",
  },
] as const;

export function buildVmDriver(outfile = COMMITTED_BUNDLES[1].committed) {
  return bundleAgentEntry(COMMITTED_BUNDLES[1].entry, outfile);
}

if (import.meta.main) {
  await buildVmDriver();
  process.stdout.write("wrote nix/tests/dist/scenario-control-plane.mjs\n");
}
