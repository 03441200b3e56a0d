import { randomBytes } from "node:crypto";
import { chmodSync, existsSync } from "node:fs";
import { isIP } from "node:net";
import {
  createSigner,
  generateEd25519KeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyOf,
  publicKeyToBase64,
  publicKeyToPem,
} from "#protocol";
import { createAuditLog } from "../audit.ts";
import { dataDirLayout, signInSettings } from "../config.ts";
import { ControlPlaneError } from "../errors.ts";
import { createAccountWithMfa, createToken, DEFAULT_TOKEN_DAYS } from "../operator/accounts.ts";
import { generatePassword } from "../operator/password.ts";
import {
  createCertificateAuthority,
  createSecretBox,
  issueServerCertificate,
} from "../pki/index.ts";
import { type Command, need, optional, usageError } from "./command.ts";
import { commandConfig, openStore } from "./config.ts";
import { readText, writeNew } from "./files.ts";

function keyPairFromPem(pem: string) {
  try {
    const privateKey = privateKeyFromPem(pem);
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  } catch (cause) {
    throw usageError(
      "--order-signing-key-file must hold an Ed25519 private key (PKCS #8 PEM)",
      cause,
    );
  }
}

/**
 * `init`: a new data directory with the order-signing key, the secret-box key, the server TLS
 * CA and certificate, the migrated store, the first operator and an admin token.
 */
export const initCommand: Command = {
  name: "init",
  usage: `control-plane init  --data-dir DIR [--operator NAME] [--operator-password-file FILE]
                      [--admin-token-file FILE] [--admin-token-days 90] [--hosts localhost,127.0.0.1] [--database-url URL]
                      [--order-signing-key-file FILE]`,
  options: {
    "data-dir": { type: "string" },
    "database-url": { type: "string" },
    operator: { type: "string" },
    "operator-password-file": { type: "string" },
    "admin-token-file": { type: "string" },
    "admin-token-days": { type: "string" },
    hosts: { type: "string" },
    "order-signing-key-file": { type: "string" },
  },
  async run(flags) {
    const dataDir = need("init", flags, "data-dir");
    const config = commandConfig("init", flags);
    const files = dataDirLayout(dataDir);
    const days = optional(flags, "admin-token-days") ?? String(DEFAULT_TOKEN_DAYS);
    const tokenDays = Number(days);
    if (!/^\d{1,4}$/.test(days) || tokenDays < 1 || tokenDays > 3650)
      throw usageError("--admin-token-days must be a whole number of days (1 to 3650)");
    if (existsSync(files.orderKey))
      throw new ControlPlaneError(
        "already_initialised",
        `${files.dir} is already initialised; refusing to replace its keys`,
      );

    // A key made elsewhere (the central Pulumi stack keeps it as a secret) or a new one.
    const importedKey = optional(flags, "order-signing-key-file");
    const orderKey =
      importedKey !== undefined
        ? keyPairFromPem(readText(importedKey, "order-signing key file"))
        : generateEd25519KeyPair();
    writeNew(files.orderKey, privateKeyToPem(orderKey.privateKey), true);
    writeNew(files.orderPub, publicKeyToPem(orderKey.publicKey), false);
    writeNew(files.orderPubB64, `${publicKeyToBase64(orderKey.publicKey)}\n`, false);
    writeNew(files.secretKey, `${randomBytes(32).toString("base64")}\n`, true);

    const hosts = (optional(flags, "hosts") ?? "localhost,127.0.0.1")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    const ca = await createCertificateAuthority("MSP control plane server CA");
    const server = await issueServerCertificate(ca, {
      dns: hosts.filter((h) => isIP(h) === 0),
      ip: hosts.filter((h) => isIP(h) !== 0),
    });
    writeNew(files.tlsCa, ca.certPem, false);
    writeNew(files.tlsCaKey, ca.keyPem, true);
    writeNew(files.tlsCert, server.certPem, false);
    writeNew(files.tlsKey, server.keyPem, true);

    const store = openStore(config);
    try {
      await store.migrate();
      // The database holds hashes and sealed CA keys: owner only (SQLite's -wal/-shm follow it).
      if (config.store.kind === "sqlite") chmodSync(config.store.path ?? files.sqlite, 0o600);
      const username = optional(flags, "operator") ?? "admin";
      const passwordFile = optional(flags, "operator-password-file");
      const password =
        passwordFile !== undefined
          ? readText(passwordFile, "password file").trimEnd()
          : generatePassword();
      if (password.length < 12)
        throw usageError("the operator password must have at least 12 characters");
      const audit = createAuditLog(store, () => new Date());
      const deps = {
        store,
        audit,
        now: () => new Date(),
        secretBox: createSecretBox(
          Buffer.from(readText(files.secretKey, "secret-box key"), "base64"),
        ),
        signIn: signInSettings(config.sign_in),
      };
      // The first operator: an admin of every tenant, with its second factor when admins need one.
      const { totp } = await createAccountWithMfa(deps, "cli:init", {
        username,
        grant: { role: "admin", scope: { tenants: "*" } },
        password,
      });
      // The first named API token: an admin of every tenant, expiring like any other.
      const { token, record } = await createToken(deps, "cli:init", {
        name: "init",
        grant: { role: "admin", scope: { tenants: "*" } },
        days: tokenDays,
      });
      await audit.record("cli", "control_plane.initialised", files.dir, {
        operator: username,
        order_signing_key_id: createSigner(orderKey.privateKey).keyId,
      });

      const out = (line: string) => process.stdout.write(`${line}\n`);
      out(`initialised ${files.dir}`);
      out(`order signing public key (base64): ${publicKeyToBase64(orderKey.publicKey)}`);
      out(`server CA for appliances to pin: ${files.tlsCa}`);
      if (passwordFile === undefined)
        out(`operator ${username} password (shown once): ${password}`);
      if (totp) {
        out(`operator ${username} second factor (shown once): ${totp.otpauth_uri}`);
        out(`operator ${username} TOTP secret (base32, shown once): ${totp.secret}`);
      }
      const tokenFile = optional(flags, "admin-token-file");
      if (tokenFile !== undefined) {
        writeNew(tokenFile, `${token}\n`, true);
        out(`admin token "init" written to ${tokenFile} (expires ${record.expiresAt})`);
      } else {
        out(`admin token "init" (shown once, expires ${record.expiresAt}): ${token}`);
      }
    } finally {
      await store.close();
    }
  },
};
