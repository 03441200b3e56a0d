import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { build } from "esbuild";
import {
  CONTROL_PLANE_ARTIFACT,
  type ReleaseManifest,
} from "../../components/control-plane-host/release-manifest.ts";
import { bundleAgentEntry } from "../build-agent.ts";
import { nixSbom, npmSbom, sbomFor } from "./sbom.ts";
import { type TarFile, tarGz } from "./tar.ts";

/**
 * Builds a release from the committed tree only (`git archive HEAD`, so nothing uncommitted
 * leaks in), reproducibly: every timestamp is the commit's (SOURCE_DATE_EPOCH), files are
 * sorted and owned by 0:0, and the signature is Ed25519 (deterministic). Writes into `out`:
 * the agent bundle, the control-plane tarball cloud-init installs, a CycloneDX SBOM for each
 * and for the flake's inputs, `manifest.json` (compact JSON with every SHA-256) and
 * `manifest.json.sig` (the raw 64-byte Ed25519 signature of the manifest's bytes).
 */
export interface ReleaseOptions {
  readonly root: string;
  readonly out: string;
  readonly keyFile: string;
  readonly allowDirty?: boolean;
}

export interface ReleaseResult {
  readonly manifest: ReleaseManifest;
  readonly files: readonly string[];
}

const git = (root: string, ...args: string[]) =>
  execFileSync("git", args, { cwd: root, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }).trim();
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Repository folders the control plane reads at run time, besides what its imports reach. */
const CONTROL_PLANE_DATA = ["catalog", "runbooks", "baseline"];

function listFiles(dir: string, base: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return listFiles(path, base);
    return e.isFile() ? [relative(base, path).split(sep).join("/")] : [];
  });
}

/** The package folder (node_modules/x or node_modules/@s/x, nested too) holding a file. */
function packageDirOf(path: string): string | undefined {
  const parts = path.split("/");
  let dir: string | undefined;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] !== "node_modules") continue;
    const scoped = parts[i + 1]?.startsWith("@");
    const end = i + (scoped ? 3 : 2);
    if (end < parts.length) dir = parts.slice(0, end).join("/");
  }
  return dir;
}

async function controlPlaneFiles(
  tree: string,
): Promise<{ files: string[]; packages: Set<string> }> {
  const result = await build({
    entryPoints: [join(tree, "control-plane", "src", "main.ts")],
    absWorkingDir: tree,
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // Resolve as Node does at run time: no "module" condition or field.
    conditions: [],
    mainFields: ["main"],
    preserveSymlinks: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.includes(":"));
  const packages = new Set<string>(["node_modules/node"]);
  const files = new Set<string>(["package.json", "node_modules/node/bin/node"]);
  for (const input of inputs) {
    if (input.endsWith(".test.ts")) continue;
    files.add(input);
    const pkg = packageDirOf(input);
    if (pkg) packages.add(pkg);
  }
  for (const pkg of packages) files.add(`${pkg}/package.json`);
  // Intermediate package.json files ("type", "exports" of sub-folders) on the way to each file.
  for (const input of [...files]) {
    const pkg = packageDirOf(input);
    if (!pkg) continue;
    for (let d = dirname(input); d.length > pkg.length; d = dirname(d)) {
      if (existsSync(join(tree, d, "package.json"))) files.add(`${d}/package.json`);
    }
  }
  for (const dir of CONTROL_PLANE_DATA) {
    for (const f of listFiles(join(tree, dir), tree)) if (!f.endsWith(".test.ts")) files.add(f);
  }
  return { files: [...files].sort(), packages };
}

export async function buildRelease(options: ReleaseOptions): Promise<ReleaseResult> {
  const root = resolve(options.root);
  const keyFile = resolve(options.keyFile);
  if (!relative(root, keyFile).startsWith("..")) {
    throw new Error(
      "the release key must live outside the repository (it signs what servers install; keep it offline)",
    );
  }
  const privateKey = createPrivateKey(readFileSync(keyFile));
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new Error("the release key must be Ed25519");
  if (!options.allowDirty && git(root, "status", "--porcelain", "--untracked-files=no") !== "") {
    throw new Error(
      "the working tree has uncommitted changes: commit them first (a release is built from HEAD)",
    );
  }
  const commit = git(root, "rev-parse", "HEAD");
  const epoch = Number(git(root, "log", "-1", "--format=%ct", commit));
  const pkg = JSON.parse(git(root, "show", `${commit}:package.json`)) as { version: string };
  const version = `${pkg.version}+${commit.slice(0, 12)}`;
  const fileVersion = `${pkg.version}-${commit.slice(0, 12)}`;
  const nodeVersion = JSON.parse(
    readFileSync(join(root, "node_modules", "node", "package.json"), "utf8"),
  ).version as string;

  const work = mkdtempSync(join(tmpdir(), "msp-release-"));
  try {
    const tree = join(work, "tree");
    mkdirSync(tree);
    execFileSync("git", ["archive", "--format=tar", "-o", join(work, "tree.tar"), commit], {
      cwd: root,
    });
    execFileSync("tar", ["-xf", join(work, "tree.tar"), "-C", tree]);
    symlinkSync(join(root, "node_modules"), join(tree, "node_modules"), "dir");
    mkdirSync(options.out, { recursive: true });
    const written: string[] = [];
    const write = (name: string, data: Uint8Array | string) => {
      writeFileSync(join(options.out, name), data);
      written.push(name);
      return typeof data === "string" ? Buffer.from(data) : data;
    };

    const full = npmSbom(tree);
    const artifacts: ReleaseManifest["artifacts"][number][] = [];
    const artifact = (
      name: ReleaseManifest["artifacts"][number]["name"],
      file: string,
      data: Uint8Array,
      sbom?: object,
    ) => {
      write(file, data);
      const entry: ReleaseManifest["artifacts"][number] = {
        name,
        file,
        sha256: sha256(data),
        size: data.length,
      };
      if (sbom) {
        const sbomFile = `${file.replace(/\.(mjs|tar\.gz|json)$/, "")}.cdx.json`;
        const sbomData = write(sbomFile, `${JSON.stringify(sbom, null, 2)}\n`);
        Object.assign(entry, { sbom: sbomFile, sbomSha256: sha256(sbomData) });
      }
      artifacts.push(entry);
    };

    // The agent: one ESM file, as the appliance runs it.
    const agentOut = join(work, "agent.mjs");
    const agentBuild = await bundleAgentEntry(join(tree, "agent", "src", "main.ts"), agentOut);
    const agentPackages = new Set(
      Object.keys(agentBuild.metafile?.inputs ?? {}).flatMap((p) => {
        // Inputs are relative to the working directory and may be real paths of the symlink.
        const at = p.indexOf("node_modules/");
        return at === -1 ? [] : (packageDirOf(p.slice(at)) ?? []);
      }),
    );
    artifact(
      "agent",
      `msp-agent-${fileVersion}.mjs`,
      readFileSync(agentOut),
      sbomFor(full, { name: "msp-agent", version, type: "file" }, agentPackages),
    );

    // The control plane: its sources, what its imports reach in node_modules, its data, the
    // pinned Node binary, and release.json (the version /readyz reports).
    const cp = await controlPlaneFiles(tree);
    const top = `msp-control-plane-${fileVersion}`;
    const tarFiles: TarFile[] = cp.files.map((f) => {
      const abs = join(tree, f);
      return {
        path: `${top}/${f}`,
        data: readFileSync(abs),
        executable: (statSync(abs).mode & 0o111) !== 0,
      };
    });
    tarFiles.push({
      path: `${top}/release.json`,
      data: Buffer.from(`${JSON.stringify({ version, commit })}\n`),
    });
    const nodeComponent = {
      type: "application",
      name: "node",
      version: nodeVersion,
      "bom-ref": `node@${nodeVersion}`,
      purl: `pkg:generic/node@${nodeVersion}?arch=x64&os=linux`,
      hashes: [
        { alg: "SHA-256", content: sha256(readFileSync(join(tree, "node_modules/node/bin/node"))) },
      ],
    };
    artifact(
      CONTROL_PLANE_ARTIFACT,
      `${top}.tar.gz`,
      tarGz(tarFiles, epoch),
      sbomFor(full, { name: "msp-control-plane", version, type: "application" }, cp.packages, [
        nodeComponent,
      ]),
    );

    const nix = write(
      `msp-nix-inputs-${fileVersion}.cdx.json`,
      `${JSON.stringify(nixSbom(tree, version), null, 2)}\n`,
    );
    artifacts.push({
      name: "nix-inputs",
      file: `msp-nix-inputs-${fileVersion}.cdx.json`,
      sha256: sha256(nix),
      size: nix.length,
    });

    const manifest: ReleaseManifest = {
      schema: "msp-release/1",
      version,
      commit,
      sourceDateEpoch: epoch,
      platform: "linux-x64",
      node: nodeVersion,
      artifacts,
    };
    // Compact and without a trailing newline: "$(cat manifest.json)" keeps the signed bytes.
    const manifestBytes = write("manifest.json", JSON.stringify(manifest));
    write("manifest.json.sig", sign(null, manifestBytes, privateKey));
    write(
      "release-key.pub.pem",
      createPublicKey(privateKey).export({ format: "pem", type: "spki" }).toString(),
    );
    return { manifest, files: written.sort() };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
