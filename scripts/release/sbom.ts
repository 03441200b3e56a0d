import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * CycloneDX SBOMs per artifact. `@cyclonedx/cyclonedx-npm` (a pinned build tool run through
 * `npm exec`, not a dependency: its optional XML validator is a native addon) reads the lockfile
 * (`--package-lock-only`, production dependencies, `--output-reproducible`: no timestamp or
 * serial number); each artifact's SBOM keeps the components whose package folder the artifact
 * actually contains, and names the artifact as the SBOM's subject.
 */
// biome-ignore lint/suspicious/noExplicitAny: CycloneDX JSON is handled structurally
type Json = any;

export const CYCLONEDX_NPM = "@cyclonedx/cyclonedx-npm@6.0.1";

export function npmSbom(treeDir: string): Json {
  const run = spawnSync(
    "npm",
    [
      "exec",
      "--yes",
      `--package=${CYCLONEDX_NPM}`,
      "--",
      "cyclonedx-npm",
      "--omit",
      "dev",
      "--package-lock-only",
      "--output-reproducible",
      "--output-format",
      "JSON",
      "--output-file",
      "-",
    ],
    { cwd: treeDir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
  );
  if (run.status !== 0) throw new Error(`cyclonedx-npm failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const pathOf = (c: Json): string | undefined =>
  c.properties?.find((p: Json) => p.name === "cdx:npm:package:path")?.value;

/** The SBOM narrowed to the package folders in `packageDirs` (e.g. node_modules/hono). */
export function sbomFor(
  full: Json,
  subject: { name: string; version: string; type: "application" | "file" },
  packageDirs: ReadonlySet<string>,
  extra: readonly Json[] = [],
): Json {
  const kept = new Set<string>();
  const keep = (components: readonly Json[] = []): Json[] =>
    components.flatMap((c) => {
      const nested = keep(c.components);
      const path = pathOf(c);
      if (path === undefined || !packageDirs.has(path)) return nested;
      kept.add(c["bom-ref"]);
      const { components: _drop, ...rest } = c;
      return [rest, ...nested];
    });
  const components = [...keep(full.components), ...extra].sort((a, b) =>
    String(a["bom-ref"]).localeCompare(String(b["bom-ref"])),
  );
  for (const e of extra) kept.add(e["bom-ref"]);
  const root = `${subject.name}@${subject.version}`;
  return {
    $schema: full.$schema,
    bomFormat: "CycloneDX",
    specVersion: full.specVersion,
    version: 1,
    metadata: {
      tools: full.metadata?.tools,
      component: {
        type: subject.type,
        name: subject.name,
        version: subject.version,
        "bom-ref": root,
      },
    },
    components,
    dependencies: [
      { ref: root, dependsOn: [...kept].sort() },
      ...(full.dependencies ?? [])
        .filter((d: Json) => kept.has(d.ref))
        .map((d: Json) => ({
          ref: d.ref,
          dependsOn: (d.dependsOn ?? []).filter((r: string) => kept.has(r)),
        })),
    ],
  };
}

/**
 * The Nix side: the flake's inputs (locked ones from flake.lock when it exists). The appliance
 * closure needs nixpkgs, which only evaluates with the inputs fetched; the SBOM says so.
 */
export function nixSbom(treeDir: string, version: string): Json {
  const flake = readFileSync(join(treeDir, "flake.nix"), "utf8");
  const lockPath = join(treeDir, "flake.lock");
  const lock = existsSync(lockPath) ? JSON.parse(readFileSync(lockPath, "utf8")) : undefined;
  const components: Json[] = [];
  for (const m of flake.matchAll(/inputs\.([A-Za-z0-9_-]+)\.url\s*=\s*"([^"]+)"/g)) {
    const [, name, url] = m as unknown as [string, string, string];
    const locked = lock?.nodes?.[name]?.locked;
    components.push({
      type: "library",
      name,
      version: locked?.rev ?? "unlocked",
      "bom-ref": `nix-input:${name}`,
      externalReferences: [{ type: "vcs", url }],
      ...(locked?.narHash
        ? {
            hashes: [
              {
                alg: "SHA-256",
                content: Buffer.from(
                  String(locked.narHash).replace(/^sha256-/, ""),
                  "base64",
                ).toString("hex"),
              },
            ],
          }
        : {}),
    });
  }
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    metadata: {
      component: { type: "application", name: "msp-appliance-flake", version, "bom-ref": "flake" },
      properties: [
        {
          name: "msp:nix:closure",
          value: lock
            ? "inputs locked by flake.lock; list the closure with: nix path-info --recursive .#compliance-agent"
            : "not evaluated: no flake.lock (pin with nix flake lock on a machine with network; see docs/appliance.md)",
        },
      ],
    },
    components,
    dependencies: [{ ref: "flake", dependsOn: components.map((c) => c["bom-ref"]) }],
  };
}
