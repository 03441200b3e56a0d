import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * CycloneDX SBOMs per artifact. `@cyclonedx/cyclonedx-npm` is a pinned devDependency run from
 * node_modules with this Node (never `npm exec`, which would download it: a release builds
 * offline once `npm ci` has run; its optional native XML validator is denied install scripts in
 * package.json's allowScripts, JSON output does not need it). It reads the lockfile
 * (`--package-lock-only`, production dependencies, `--output-reproducible`: no timestamp or
 * serial number); each artifact's SBOM keeps the components whose package folder the artifact
 * actually contains, and names the artifact as the SBOM's subject.
 */
// biome-ignore lint/suspicious/noExplicitAny: CycloneDX JSON is handled structurally
type Json = any;

/** The generator's entry in a tree whose node_modules `npm ci` installed. */
export function cyclonedxNpmCli(treeDir: string): string {
  const cli = join(
    treeDir,
    "node_modules",
    "@cyclonedx",
    "cyclonedx-npm",
    "bin",
    "cyclonedx-npm-cli.js",
  );
  if (!existsSync(cli)) {
    throw new Error(
      "@cyclonedx/cyclonedx-npm is missing from node_modules: run npm ci (it is a devDependency)",
    );
  }
  return cli;
}

export function npmSbom(treeDir: string): Json {
  const run = spawnSync(
    process.execPath,
    [
      cyclonedxNpmCli(treeDir),
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

/** A Nix SRI hash (`sha256-<base64>`) as hex, the form CycloneDX wants. */
function sriToHex(hash: unknown): string | undefined {
  const m = /^sha256-([A-Za-z0-9+/=]+)$/.exec(String(hash));
  return m?.[1] ? Buffer.from(m[1], "base64").toString("hex") : undefined;
}

/** What `nix path-info` needs offline: no substituters, no registry, the lock file as it is. */
const NIX_OFFLINE = [
  "--extra-experimental-features",
  "nix-command flakes",
  "--option",
  "substituters",
  "",
  "--option",
  "flake-registry",
  "",
  "--offline",
];

export const NIX_CLOSURE_ATTR = "compliance-agent";

/**
 * The derivation closure of the flake's agent package (`nix path-info --derivation
 * --recursive`, every store path with its NAR hash), or the plain reason it could not be
 * listed: no flake.lock (nixpkgs unpinned), no `nix` on PATH, or an evaluation that failed
 * (typically nixpkgs not in the store of a machine without network).
 */
export function nixClosure(
  treeDir: string,
): { paths: Json[]; reason?: undefined } | { paths?: undefined; reason: string } {
  if (!existsSync(join(treeDir, "flake.lock"))) {
    return {
      reason:
        "not evaluated: no flake.lock, so nixpkgs is not pinned (pin it with nix flake lock on a machine with network and commit flake.lock; see docs/appliance.md)",
    };
  }
  const run = spawnSync(
    "nix",
    [
      ...NIX_OFFLINE,
      "path-info",
      "--no-update-lock-file",
      "--derivation",
      "--recursive",
      "--json",
      `path:${treeDir}#${NIX_CLOSURE_ATTR}`,
    ],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
  );
  if (run.error) return { reason: `not evaluated: nix could not run (${run.error.message})` };
  if (run.status !== 0) {
    const why = run.stderr
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("warning:"))
      .slice(0, 2)
      .join(" ");
    return { reason: `not evaluated: nix path-info failed (${why || `exit ${run.status}`})` };
  }
  return { paths: JSON.parse(run.stdout) as Json[] };
}

/**
 * The Nix side: the flake's inputs (locked ones from flake.lock when it exists) and, where the
 * flake evaluates here, the agent package's derivation closure; otherwise the SBOM says why not.
 */
export function nixSbom(treeDir: string, version: string): Json {
  const flake = readFileSync(join(treeDir, "flake.nix"), "utf8");
  const lockPath = join(treeDir, "flake.lock");
  const lock = existsSync(lockPath) ? JSON.parse(readFileSync(lockPath, "utf8")) : undefined;
  const components: Json[] = [];
  for (const m of flake.matchAll(/inputs\.([A-Za-z0-9_-]+)\.url\s*=\s*"([^"]+)"/g)) {
    const [, name, url] = m as unknown as [string, string, string];
    const locked = lock?.nodes?.[name]?.locked;
    const hex = sriToHex(locked?.narHash);
    components.push({
      type: "library",
      name,
      version: locked?.rev ?? "unlocked",
      "bom-ref": `nix-input:${name}`,
      externalReferences: [{ type: "vcs", url }],
      ...(hex ? { hashes: [{ alg: "SHA-256", content: hex }] } : {}),
    });
  }
  const closure = nixClosure(treeDir);
  const closureRefs: string[] = [];
  for (const p of closure.paths ?? []) {
    const path = String(p.path);
    const hex = sriToHex(p.narHash);
    closureRefs.push(path);
    components.push({
      type: "file",
      name: path.replace(/^.*\/[0-9a-z]{32}-/, ""),
      "bom-ref": path,
      properties: [{ name: "nix:store-path", value: path }],
      ...(hex ? { hashes: [{ alg: "SHA-256", content: hex }] } : {}),
    });
  }
  const inputs = components.filter((c) => c["bom-ref"].startsWith("nix-input:"));
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    version: 1,
    metadata: {
      component: { type: "application", name: "msp-appliance-flake", version, "bom-ref": "flake" },
      properties: [
        {
          name: "msp:nix:closure",
          value: closure.paths
            ? `derivation closure of .#${NIX_CLOSURE_ATTR}: ${closure.paths.length} store paths (nix path-info --derivation --recursive)`
            : closure.reason,
        },
      ],
    },
    components,
    dependencies: [
      { ref: "flake", dependsOn: [...inputs.map((c) => c["bom-ref"]), ...closureRefs] },
      ...(closure.paths ?? []).map((p: Json) => ({
        ref: String(p.path),
        dependsOn: ((p.references ?? []) as string[]).filter((r) => r !== p.path),
      })),
    ],
  };
}
