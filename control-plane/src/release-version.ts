import { readFileSync } from "node:fs";

/**
 * The version this control plane runs: `release.json` at the root of an installed release
 * (written by `npm run release`: `<semver>+<commit>`), else the checkout's package.json
 * version with "+dev". /readyz reports it so a deployment can check what started.
 */
export function releaseVersion(root: URL = new URL("../../", import.meta.url)): string {
  const read = (name: string): unknown => {
    try {
      return JSON.parse(readFileSync(new URL(name, root), "utf8"));
    } catch {
      return undefined;
    }
  };
  const release = read("release.json") as { version?: unknown } | undefined;
  if (typeof release?.version === "string") return release.version;
  const pkg = read("package.json") as { version?: unknown } | undefined;
  return `${typeof pkg?.version === "string" ? pkg.version : "0.0.0"}+dev`;
}
