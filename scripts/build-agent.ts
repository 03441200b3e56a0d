/**
 * Builds the agent into one self-contained ESM file, agent/dist/agent.mjs, run by Node 24 on
 * the appliance (no node_modules beside it, no native addon: node:sqlite is built in).
 *   npm run build:agent            (or: node scripts/build-agent.ts <outfile>)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build, type Plugin } from "esbuild";

const root = join(import.meta.dirname, "..");

/**
 * The V8 flags the agent runs with (the NixOS unit should pass the same): a 1 MiB young
 * generation, no JIT (the agent's hot paths are native crypto and SQLite; see bench/agent-core)
 * and V8's smaller-footprint heuristics.
 */
export const AGENT_NODE_FLAGS = [
  "--max-semi-space-size=1",
  "--jitless",
  "--optimize-for-size",
] as const;

/**
 * The flags the agent runs with on Bun: `--smol` makes JavaScriptCore collect more often for a
 * smaller heap (the agent is idle between cycles; see bench/agent-core for both runtimes).
 */
export const AGENT_BUN_FLAGS = ["--smol"] as const;

/**
 * The environment the agent runs with on Bun: JavaScriptCore without its JIT (it has no flag for
 * this, only its option in the environment). The agent's hot paths are native (crypto, SQLite,
 * TLS), the interpreter is enough, and it lowers the peak RSS (see bench/agent-core).
 */
export const AGENT_BUN_ENV = { BUN_JSC_useJIT: "0" } as const;

/**
 * zod's public namespace re-exports its 40-odd locales (`z.locales`), so bundling `z` brings
 * them all: about 260 KiB of the bundle and 3 MiB of RSS on Node at start. The agent reads none
 * (zod registers English itself), so the bundle gets `z.locales.en` alone.
 */
export const englishZodOnly: Plugin = {
  name: "english-zod-only",
  setup(b) {
    const zodDir = dirname(createRequire(import.meta.url).resolve("zod/package.json"));
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.startsWith(zodDir)
        ? { path: "zod-locales-en", namespace: "zod-locales" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, () => ({
      contents: 'export { default as en } from "zod/v4/locales/en.js";',
      resolveDir: zodDir,
    }));
  },
};

/** Bundles one agent entry point the way the appliance runs it (the bench bundles its child too). */
export function bundleAgentEntry(entry: string, outfile: string) {
  return build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: true,
    keepNames: true,
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
    plugins: [englishZodOnly],
    // CommonJS dependencies (tsyringe under @peculiar/x509) call require() for builtins.
    banner: {
      js: "import { createRequire as __agentRequire } from 'node:module'; const require = __agentRequire(import.meta.url);",
    },
  });
}

export function buildAgent(outfile = join(root, "agent", "dist", "agent.mjs")) {
  return bundleAgentEntry(join(root, "agent", "src", "main.ts"), outfile);
}

let fromSource: Promise<string> | undefined;

/**
 * The agent bundle built from the sources as they are now, once per process, in a temporary
 * directory removed at exit: what the end-to-end tests run, so they test the agent's source and
 * not whatever bundle was last committed. (The committed agent/dist/agent.mjs, which the Nix
 * flake builds from, is kept equal to the sources by nix/ci/bundles.test.ts.)
 */
export function agentBundleFromSource(): Promise<string> {
  fromSource ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-bundle-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const outfile = join(dir, "agent.mjs");
    await buildAgent(outfile);
    return outfile;
  })();
  return fromSource;
}

if (import.meta.main) {
  const result = await buildAgent(process.argv[2]);
  const [file, output] = Object.entries(result.metafile?.outputs ?? {})[0] ?? [];
  process.stdout.write(`${file}: ${Math.round((output?.bytes ?? 0) / 1024)} KiB\n`);
}
