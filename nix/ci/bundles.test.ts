import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleAgentEntry } from "../../scripts/build-agent.ts";
import { COMMITTED_BUNDLES } from "./bundles.ts";
import { tempDir } from "./tools.ts";

const tmp = tempDir("nix-bundles-");
afterAll(tmp.remove);

describe("the committed bundles the flake builds from", () => {
  it.each(COMMITTED_BUNDLES)("$name is what its sources build to", async (bundle) => {
    const fresh = join(tmp.dir, "fresh.mjs");
    await bundleAgentEntry(bundle.entry, fresh);
    const same = readFileSync(fresh).equals(readFileSync(bundle.committed));
    expect(same, `${bundle.name} is stale: run ${bundle.refresh} and commit it`).toBe(true);
  });
});
