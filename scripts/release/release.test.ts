import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VERIFY } from "../../components/control-plane-host/cloud-init.ts";
import { readinessProvider } from "../../components/control-plane-host/readiness.ts";
import { verifyReleaseManifest } from "../../components/control-plane-host/release-manifest.ts";

/**
 * `npm run release` end to end, as a child process twice: once in this checkout, once in a fresh
 * clone of HEAD with the network and npm's cache out of reach (so the SBOM tool must come from
 * the installed devDependencies, not a download); the two builds are byte-identical, the
 * signature verifies with OpenSSL alone (the commands
 * docs/operators.md gives), cloud-init's verifier accepts the tarball and refuses a tampered
 * one, and the control plane unpacked from it starts and reports the release's version on
 * /readyz, which the stack's readiness check waits for.
 */
const root = resolve(import.meta.dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "msp-release-test-"));
const key = join(work, "key");
const out = [join(work, "one"), join(work, "two")];
let manifestText = "";

/** Nothing reachable: an npm that tried to download would fail. */
const OFFLINE = {
  npm_config_offline: "true",
  npm_config_registry: "http://127.0.0.1:9/",
  npm_config_cache: join(work, "empty-npm-cache"),
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
  https_proxy: "http://127.0.0.1:9",
  http_proxy: "http://127.0.0.1:9",
};

function release(checkout: string, dir: string, ...extra: string[]) {
  return spawnSync(
    process.execPath,
    [
      join(checkout, "scripts", "release.ts"),
      "--key",
      join(key, "release-key.pem"),
      "--out",
      dir,
      ...extra,
    ],
    { cwd: checkout, encoding: "utf8", timeout: 300_000, env: { ...process.env, ...OFFLINE } },
  );
}

/** A fresh clone of HEAD whose dependencies are the installed ones (as after `npm ci`). */
function freshClone(): string {
  const clone = join(work, "clone");
  const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  execFileSync("git", ["clone", "--quiet", "--no-checkout", root, clone]);
  execFileSync("git", ["checkout", "--quiet", "--detach", head], { cwd: clone });
  symlinkSync(join(root, "node_modules"), join(clone, "node_modules"), "dir");
  return clone;
}

beforeAll(() => {
  const gen = spawnSync(
    process.execPath,
    [join(root, "scripts", "release.ts"), "keygen", "--out", key],
    {
      encoding: "utf8",
    },
  );
  expect(gen.status, gen.stderr).toBe(0);
  const here = release(root, out[0] as string, "--allow-dirty");
  expect(here.status, here.stderr).toBe(0);
  const clean = release(freshClone(), out[1] as string);
  expect(clean.status, clean.stderr).toBe(0);
  manifestText = readFileSync(join(out[0] as string, "manifest.json"), "utf8");
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const one = () => out[0] as string;
const controlPlaneFile = () =>
  verifyReleaseManifest(
    manifestText,
    readFileSync(join(one(), "manifest.json.sig")).toString("base64"),
    readFileSync(join(key, "release-key.pub.pem"), "utf8"),
  ).controlPlane.file;

describe("npm run release", () => {
  it("builds the same bytes twice, in this checkout and offline in a fresh clone", () => {
    const files = readdirSync(one()).sort();
    expect(files).toEqual(readdirSync(out[1] as string).sort());
    expect(files.filter((f) => f.endsWith(".cdx.json"))).toHaveLength(3);
    for (const f of files) {
      expect(readFileSync(join(out[1] as string, f)).equals(readFileSync(join(one(), f))), f).toBe(
        true,
      );
    }
  });

  it("makes its SBOMs with the pinned devDependency, which is all an offline build has", () => {
    const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies[
      "@cyclonedx/cyclonedx-npm"
    ];
    const agentSbom = readdirSync(one()).find(
      (f) => f.startsWith("msp-agent-") && f.endsWith(".cdx.json"),
    );
    const tools = JSON.parse(readFileSync(join(one(), agentSbom as string), "utf8")).metadata.tools
      .components as { name: string; version: string }[];
    expect(tools).toContainEqual(
      expect.objectContaining({ name: "cyclonedx-npm", version: pinned }),
    );
    // The fresh clone's build ran where a download cannot succeed: `npm exec` of the tool fails.
    const fetched = spawnSync(
      "npm",
      [
        "exec",
        "--yes",
        `--package=@cyclonedx/cyclonedx-npm@${pinned}`,
        "--",
        "cyclonedx-npm",
        "--version",
      ],
      { cwd: work, encoding: "utf8", timeout: 120_000, env: { ...process.env, ...OFFLINE } },
    );
    expect(fetched.status).not.toBe(0);
    // The Nix side says plainly why its closure is not listed (no flake.lock here).
    const nix = readdirSync(one()).find((f) => f.startsWith("msp-nix-inputs-")) as string;
    const closure = JSON.parse(readFileSync(join(one(), nix), "utf8")).metadata.properties.find(
      (p: { name: string }) => p.name === "msp:nix:closure",
    ).value;
    expect(closure).toMatch(/^(not evaluated: .+|derivation closure of .+: \d+ store paths .+)$/);
  });

  it("refuses a key inside the repository and names a missing key flag", () => {
    const run = spawnSync(process.execPath, [join(root, "scripts", "release.ts")], {
      encoding: "utf8",
      env: { ...process.env, MSP_RELEASE_KEY_FILE: "" },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("--key FILE");
    const inside = spawnSync(
      process.execPath,
      [
        join(root, "scripts", "release.ts"),
        "--key",
        join(root, "package.json"),
        "--out",
        join(work, "x"),
      ],
      { encoding: "utf8" },
    );
    expect(inside.status).toBe(1);
    expect(inside.stderr).toContain("outside the repository");
  });

  it("lists every artifact with its SHA-256 and SBOM, signed so OpenSSL alone verifies it", () => {
    const manifest = JSON.parse(manifestText);
    for (const a of manifest.artifacts) {
      const sum = execFileSync("openssl", ["dgst", "-sha256", "-r", join(one(), a.file)], {
        encoding: "utf8",
      });
      expect(sum.split(" ")[0], a.file).toBe(a.sha256);
      if (a.sbom)
        expect(JSON.parse(readFileSync(join(one(), a.sbom), "utf8")).bomFormat).toBe("CycloneDX");
    }
    const verify = (manifest: string) =>
      spawnSync(
        "openssl",
        [
          "pkeyutl",
          "-verify",
          "-pubin",
          "-inkey",
          join(key, "release-key.pub.pem"),
          "-rawin",
          "-in",
          manifest,
          "-sigfile",
          join(one(), "manifest.json.sig"),
        ],
        { encoding: "utf8" },
      );
    expect(verify(join(one(), "manifest.json")).status).toBe(0);
    const forged = join(work, "forged.json");
    writeFileSync(forged, manifestText.replace(/"size":\d+/, '"size":1'));
    expect(verify(forged).status).not.toBe(0);
    const sbom = JSON.parse(
      readFileSync(
        join(
          one(),
          manifest.artifacts.find((a: { name: string }) => a.name === "control-plane").sbom,
        ),
        "utf8",
      ),
    );
    const names = sbom.components.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(["hono", "zod", "node"]));
    expect(names).not.toContain("aws"); // the Pulumi SDKs are not in the control plane
  });
});

describe("cloud-init's release verifier", () => {
  const dir = join(work, "etc-release");
  const script = join(work, "msp-release-verify");
  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(one(), "manifest.json"), join(dir, "manifest.json"));
    copyFileSync(join(one(), "manifest.json.sig"), join(dir, "manifest.json.sig"));
    copyFileSync(join(key, "release-key.pub.pem"), join(dir, "release-key.pub.pem"));
    writeFileSync(script, VERIFY);
    chmodSync(script, 0o755);
  });
  const run = (...args: string[]) => spawnSync("sh", [script, dir, ...args], { encoding: "utf8" });

  it("names the signed tarball and accepts it", () => {
    const named = run();
    expect(named.status, named.stderr).toBe(0);
    expect(named.stdout.trim()).toBe(controlPlaneFile());
    const ok = run(join(one(), controlPlaneFile()));
    expect(ok.status, ok.stderr).toBe(0);
  });

  it("refuses a tampered tarball", () => {
    const tampered = join(work, "tampered.tar.gz");
    const bytes = readFileSync(join(one(), controlPlaneFile()));
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff;
    writeFileSync(tampered, bytes);
    const refused = run(tampered);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("is not the signed manifest's; refusing it");
  });

  it("refuses a manifest signed by another key", () => {
    const other = join(work, "other-key");
    spawnSync(process.execPath, [join(root, "scripts", "release.ts"), "keygen", "--out", other]);
    copyFileSync(join(other, "release-key.pub.pem"), join(dir, "release-key.pub.pem"));
    try {
      const refused = run(join(one(), controlPlaneFile()));
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("signature does not verify");
    } finally {
      copyFileSync(join(key, "release-key.pub.pem"), join(dir, "release-key.pub.pem"));
    }
  });
});

describe("the control plane from the release tarball", () => {
  it("starts, and the stack's readiness check sees its version over TLS with the pinned CA", async () => {
    const installed = join(work, "opt");
    mkdirSync(installed);
    execFileSync("tar", [
      "-xzf",
      join(one(), controlPlaneFile()),
      "-C",
      installed,
      "--strip-components=1",
      "--no-same-owner",
    ]);
    const node = join(installed, "node_modules", "node", "bin", "node");
    const main = join(installed, "control-plane", "src", "main.ts");
    const data = join(work, "data");
    const init = spawnSync(
      node,
      [
        main,
        "init",
        "--data-dir",
        data,
        "--admin-token-file",
        join(work, "t"),
        "--hosts",
        "cp.example.net",
      ],
      { encoding: "utf8", cwd: work, timeout: 60_000 },
    );
    expect(init.status, init.stderr).toBe(0);
    const child = spawn(
      node,
      [main, "serve", "--data-dir", data, "--port", "0", "--host", "127.0.0.1"],
      { cwd: work, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const port = await new Promise<number>((done, fail) => {
        createInterface({ input: child.stdout }).on("line", (l) => {
          const m = /^listening on https:\/\/127\.0\.0\.1:(\d+)$/.exec(l);
          if (m) done(Number(m[1]));
        });
        child.once("exit", (code) => fail(new Error(`serve exited ${code}`)));
      });
      const version = JSON.parse(manifestText).version as string;
      const inputs = {
        address: "127.0.0.1",
        port,
        hostname: "cp.example.net",
        caPem: readFileSync(join(data, "tls", "ca.pem"), "utf8"),
        expectedVersion: version,
        timeoutSeconds: 20,
        logCommand: [process.execPath, "-e", "console.log('tail of cloud-init-output.log')"],
      };
      const created = await readinessProvider.create(inputs);
      expect(created.outs).toMatchObject({ version });
      // Another release than the one running: the update fails with the log tail.
      await expect(
        readinessProvider.create({
          ...inputs,
          expectedVersion: "9.9.9+ffffffffffff",
          timeoutSeconds: 1,
        }),
      ).rejects.toThrow(
        /runs version .*expected 9\.9\.9\+ffffffffffff\ncloud-init log \(tail\):\ntail of cloud-init-output\.log/,
      );
      // A certificate for another name (the CA pins, the name must match too).
      await expect(
        readinessProvider.create({ ...inputs, hostname: "evil.example.net", timeoutSeconds: 1 }),
      ).rejects.toThrow(/not ready/);
    } finally {
      child.kill("SIGTERM");
    }
  }, 120_000);
});
