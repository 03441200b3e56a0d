/**
 * `npm run release -- --key <release-key.pem> [--out dist/release] [--allow-dirty]`
 * `npm run release -- keygen --out <dir>`   (a new Ed25519 release key pair, kept offline)
 *
 * Builds the signed, reproducible release (see scripts/release/build.ts and docs/operators.md,
 * "Releases"). Exit 2 on a wrong flag, 1 when the build refuses.
 */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildRelease } from "./release/build.ts";

const root = resolve(import.meta.dirname, "..");

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run release -- --key FILE [--out DIR] [--allow-dirty]\n       npm run release -- keygen --out DIR\n`,
  );
  process.exit(2);
}

let parsed: ReturnType<
  typeof parseArgs<{
    options: {
      key: { type: "string" };
      out: { type: "string" };
      "allow-dirty": { type: "boolean" };
    };
    allowPositionals: true;
  }>
>;
try {
  parsed = parseArgs({
    options: {
      key: { type: "string" },
      out: { type: "string" },
      "allow-dirty": { type: "boolean" },
    },
    allowPositionals: true,
  });
} catch (e) {
  usage((e as Error).message);
}
const { values, positionals } = parsed;

if (positionals[0] === "keygen") {
  if (!values.out) usage("keygen needs --out DIR");
  const dir = resolve(values.out);
  const file = join(dir, "release-key.pem");
  if (existsSync(file)) usage(`${file} exists; refusing to overwrite a release key`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  writeFileSync(
    join(dir, "release-key.pub.pem"),
    publicKey.export({ format: "pem", type: "spki" }),
  );
  process.stdout.write(
    `wrote ${file} (keep it offline) and release-key.pub.pem (msp:releasePublicKey)\n`,
  );
} else if (positionals.length > 0) {
  usage(`unknown command ${positionals[0]}`);
} else {
  const keyFile = values.key ?? process.env.MSP_RELEASE_KEY_FILE;
  if (!keyFile) usage("--key FILE (or MSP_RELEASE_KEY_FILE) names the Ed25519 release key");
  try {
    const out = resolve(values.out ?? join(root, "dist", "release"));
    const { manifest, files } = await buildRelease({
      root,
      out,
      keyFile,
      allowDirty: values["allow-dirty"] === true,
    });
    process.stdout.write(
      `release ${manifest.version} in ${out}:\n${files.map((f) => `  ${f}`).join("\n")}\n`,
    );
  } catch (e) {
    process.stderr.write(`release: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
