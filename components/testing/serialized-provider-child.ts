import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as pulumi from "@pulumi/pulumi";
import { enrollmentProvider } from "../enrollment/provider.ts";

/**
 * Runs the ApplianceEnrollment provider the way the Pulumi engine does, in plain Node (vitest
 * rewrites import() and could not show this): `serialize FILE` writes the closure text that
 * `pulumi.dynamic.Resource` stores in the state; `call FILE METHOD` loads that text as the
 * dynamic-provider host does (require-from-string, then `.handler()`) in a fresh process, runs
 * one method with the JSON arguments read from stdin and prints its JSON result.
 */
const [mode, file, method] = process.argv.slice(2);
if (mode === "serialize" && file) {
  const serialized = await pulumi.runtime.serializeFunction(() => enrollmentProvider, {
    allowSecrets: true,
  });
  writeFileSync(file, serialized.text);
  process.stdout.write(`${JSON.stringify({ containsSecrets: serialized.containsSecrets })}\n`);
} else if (mode === "call" && file && method) {
  const require = createRequire(import.meta.url);
  const requireFromString = require("require-from-string") as (code: string) => {
    handler(): Record<string, (...args: unknown[]) => Promise<unknown>>;
  };
  const provider = requireFromString(readFileSync(file, "utf8")).handler();
  const args = JSON.parse(readFileSync(0, "utf8")) as unknown[];
  const fn = provider[method];
  if (!fn) throw new Error(`the provider has no ${method}`);
  process.stdout.write(`${JSON.stringify((await fn(...args)) ?? null)}\n`);
} else {
  process.stderr.write("usage: serialize FILE | call FILE METHOD < args.json\n");
  process.exitCode = 2;
}
