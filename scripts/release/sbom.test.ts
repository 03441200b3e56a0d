import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nixSbom } from "./sbom.ts";

/**
 * The Nix side of the release SBOMs with the real `nix`: a flake without flake.lock gets the
 * plain reason instead of a closure; a locked flake that evaluates offline gets its agent
 * package's derivation closure, each store path with its NAR hash. (The project's own flake
 * needs nixpkgs, which no machine without network has: its release SBOM carries the reason.)
 */
const work = mkdtempSync(join(tmpdir(), "msp-nix-sbom-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hasNix = spawnSync("nix", ["--version"]).status === 0;
if (!hasNix && process.env.CI) throw new Error("CI needs nix (Debian's nix-bin) for this test");

// Two derivations built by /bin/sh, the agent depending on its helper; no inputs.
const FLAKE = `{
  inputs.helper.url = "path:./helper";
  outputs = { self, ... }: {
    packages.x86_64-linux.helper = derivation {
      name = "msp-sbom-helper"; system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "echo helper > $out" ];
    };
    packages.x86_64-linux.compliance-agent = derivation {
      name = "msp-sbom-agent"; system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "echo \${self.packages.x86_64-linux.helper} > $out" ];
    };
  };
}
`;

function flakeDir(name: string, lock: boolean): string {
  const dir = join(work, name);
  const helper = join(dir, "helper");
  spawnSync("mkdir", ["-p", helper]);
  writeFileSync(join(helper, "flake.nix"), "{ outputs = { self }: { }; }\n");
  writeFileSync(join(dir, "flake.nix"), FLAKE);
  if (lock) {
    const locked = spawnSync(
      "nix",
      [
        "--extra-experimental-features",
        "nix-command flakes",
        "--option",
        "flake-registry",
        "",
        "flake",
        "lock",
        `path:${dir}`,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (locked.status !== 0) throw new Error(`nix flake lock: ${locked.stderr}`);
  }
  return dir;
}

describe("the Nix SBOM", () => {
  it("says plainly why no closure is listed when nixpkgs is not pinned", () => {
    const sbom = nixSbom(flakeDir("unlocked", false), "1.0.0+test");
    const closure = sbom.metadata.properties.find(
      (p: { name: string }) => p.name === "msp:nix:closure",
    ).value;
    expect(closure).toMatch(/^not evaluated: no flake\.lock/);
    expect(sbom.components).toEqual([
      expect.objectContaining({
        name: "helper",
        version: "unlocked",
        "bom-ref": "nix-input:helper",
      }),
    ]);
  });

  it.skipIf(!hasNix)("lists the derivation closure of a flake that evaluates offline", () => {
    const sbom = nixSbom(flakeDir("locked", true), "1.0.0+test");
    const closure = sbom.metadata.properties.find(
      (p: { name: string }) => p.name === "msp:nix:closure",
    ).value;
    expect(closure).toBe(
      "derivation closure of .#compliance-agent: 2 store paths (nix path-info --derivation --recursive)",
    );
    const paths = sbom.components.filter((c: { "bom-ref": string }) =>
      c["bom-ref"].startsWith("/nix/store/"),
    );
    expect(paths.map((c: { name: string }) => c.name).sort()).toEqual([
      "msp-sbom-agent.drv",
      "msp-sbom-helper.drv",
    ]);
    for (const c of paths) expect(c.hashes[0].content).toMatch(/^[0-9a-f]{64}$/);
    const agent = paths.find((c: { name: string }) => c.name === "msp-sbom-agent.drv");
    const helper = paths.find((c: { name: string }) => c.name === "msp-sbom-helper.drv");
    expect(sbom.dependencies).toContainEqual({
      ref: agent["bom-ref"],
      dependsOn: [helper["bom-ref"]],
    });
    // The locked input carries its NAR hash from flake.lock.
    const input = sbom.components.find((c: { name: string }) => c.name === "helper");
    expect(input.hashes[0].content).toMatch(/^[0-9a-f]{64}$/);
  });
});
