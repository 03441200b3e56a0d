#!/usr/bin/env node
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync } from "node:fs";
import { cp } from "node:fs/promises";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import {
  createSigner,
  ExportRangeBasis,
  generateEd25519KeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyOf,
  publicKeyToBase64,
  publicKeyToPem,
  sha256Hex,
  Timestamp,
} from "#protocol";
import { createApp } from "./app.ts";
import { createAuditLog } from "./audit.ts";
import { readText, writeNew } from "./cli/files.ts";
import { type Config, ConfigError, dataDirLayout, loadConfig } from "./config.ts";
import { holderId, startMonthlyJob, startScheduledJob } from "./jobs/lease.ts";
import { jsonLogger } from "./logger.ts";
import { generatePassword, hashPassword } from "./operator/password.ts";
import { generatePacket, Month, runMonthlyPackets } from "./packets/index.ts";
import {
  createCertificateAuthority,
  createSecretBox,
  issueServerCertificate,
} from "./pki/index.ts";
import { DEFAULT_CATALOG_DIR, plannerDeps } from "./planner/from-config.ts";
import {
  incidentDispatch,
  natsQueue,
  parseRoles,
  ROLES,
  startIncidentWorker,
} from "./queue/index.ts";
import { startServer } from "./server.ts";
import { openPostgresStore, openSqliteStore, type Store } from "./store/index.ts";
import { writeExport } from "./vault/export.ts";
import { openVault, startVaultJob } from "./vault/index.ts";

/**
 * `control-plane init|serve`: the only place concrete objects are built. Exit codes: 0 done,
 * 1 failed, 2 usage or configuration error. `serve` prints `listening on https://HOST:PORT`
 * on stdout once ready; logs are JSON lines on stderr.
 */
const USAGE = `usage:
  control-plane init  --data-dir DIR [--operator NAME] [--operator-password-file FILE]
                      [--admin-token-file FILE] [--hosts localhost,127.0.0.1] [--database-url URL]
                      [--order-signing-key-file FILE]
  control-plane serve (--data-dir DIR | --config FILE) [--port N] [--host H] [--database-url URL]
                      [--roles http,ingest,planner,vault,packets] [--nats-url URL] [--queue-prefix P]
                      [--queue-ack-wait-ms N]
  control-plane export (--data-dir DIR | --config FILE) --tenant T --appliance A
                       --from RFC3339 --to RFC3339 --out NEW_DIR [--basis received_at|recorded_at]
  control-plane packet (--data-dir DIR | --config FILE) --tenant T --month YYYY-MM --out NEW_DIR`;

const OPTIONS = {
  "data-dir": { type: "string" },
  config: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  "database-url": { type: "string" },
  roles: { type: "string" },
  "nats-url": { type: "string" },
  "queue-prefix": { type: "string" },
  "queue-ack-wait-ms": { type: "string" },
  operator: { type: "string" },
  "operator-password-file": { type: "string" },
  "admin-token-file": { type: "string" },
  hosts: { type: "string" },
  "order-signing-key-file": { type: "string" },
  tenant: { type: "string" },
  appliance: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  basis: { type: "string" },
  out: { type: "string" },
  month: { type: "string" },
  help: { type: "boolean" },
} as const;

class UsageError extends Error {}

function openStore(config: Config): Store {
  return config.store.kind === "postgres"
    ? openPostgresStore({
        connectionString: config.store.url,
        ...(config.store.schema ? { schema: config.store.schema } : {}),
      })
    : openSqliteStore(config.store.path ?? dataDirLayout(config.data_dir).sqlite);
}

function keyPairFromPem(pem: string) {
  try {
    const privateKey = privateKeyFromPem(pem);
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  } catch (cause) {
    throw new UsageError(
      "--order-signing-key-file must hold an Ed25519 private key (PKCS #8 PEM)",
      { cause },
    );
  }
}

async function init(values: Record<string, string | boolean | undefined>): Promise<void> {
  const dataDir = values["data-dir"];
  if (typeof dataDir !== "string") throw new UsageError("init needs --data-dir");
  const config = loadConfig({ dataDir, overrides: { database_url: values["database-url"] } });
  const files = dataDirLayout(dataDir);
  if (existsSync(files.orderKey))
    throw new Error(`${files.dir} is already initialised; refusing to replace its keys`);

  // A key made elsewhere (the central Pulumi stack keeps it as a secret) or a new one.
  const importedKey = values["order-signing-key-file"];
  const orderKey =
    typeof importedKey === "string"
      ? keyPairFromPem(readText(importedKey, "order-signing key file"))
      : generateEd25519KeyPair();
  writeNew(files.orderKey, privateKeyToPem(orderKey.privateKey), true);
  writeNew(files.orderPub, publicKeyToPem(orderKey.publicKey), false);
  writeNew(files.orderPubB64, `${publicKeyToBase64(orderKey.publicKey)}\n`, false);
  writeNew(files.secretKey, `${randomBytes(32).toString("base64")}\n`, true);

  const hosts = String(values.hosts ?? "localhost,127.0.0.1")
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
    const now = new Date().toISOString();
    const username = typeof values.operator === "string" ? values.operator : "admin";
    const passwordFile = values["operator-password-file"];
    const password =
      typeof passwordFile === "string"
        ? readText(passwordFile, "password file").trimEnd()
        : generatePassword();
    if (password.length < 12)
      throw new UsageError("the operator password must have at least 12 characters");
    await store.createOperator(
      {
        operatorId: randomUUID(),
        username,
        passwordHash: await hashPassword(password),
        failedAttempts: 0,
        lockedUntil: null,
      },
      now,
    );
    const token = randomBytes(32).toString("base64url");
    await store.addAdminToken(sha256Hex(new TextEncoder().encode(token)), "init", now);
    await createAuditLog(store, () => new Date()).record(
      "cli",
      "control_plane.initialised",
      files.dir,
      {
        operator: username,
        order_signing_key_id: createSigner(orderKey.privateKey).keyId,
      },
    );

    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`initialised ${files.dir}`);
    out(`order signing public key (base64): ${publicKeyToBase64(orderKey.publicKey)}`);
    out(`server CA for appliances to pin: ${files.tlsCa}`);
    if (typeof passwordFile !== "string")
      out(`operator ${username} password (shown once): ${password}`);
    const tokenFile = values["admin-token-file"];
    if (typeof tokenFile === "string") {
      writeNew(tokenFile, `${token}\n`, true);
      out(`admin token written to ${tokenFile}`);
    } else {
      out(`admin token (shown once): ${token}`);
    }
  } finally {
    await store.close();
  }
}

async function serve(values: Record<string, string | boolean | undefined>): Promise<void> {
  const configFile = typeof values.config === "string" ? values.config : undefined;
  const dataDir = typeof values["data-dir"] === "string" ? values["data-dir"] : undefined;
  if (!configFile && !dataDir) throw new UsageError("serve needs --data-dir or --config");
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !Number.isInteger(port))
    throw new UsageError("--port must be an integer");
  const config = loadConfig({
    ...(configFile ? { configFile } : {}),
    ...(dataDir ? { dataDir } : {}),
    overrides: { port, host: values.host, database_url: values["database-url"] },
  });
  const files = dataDirLayout(config.data_dir);
  const logger = jsonLogger((line) => process.stderr.write(line), config.log_level);
  const signer = createSigner(privateKeyFromPem(readText(files.orderKey, "order-signing key")));
  const secretBox = createSecretBox(
    Buffer.from(readText(files.secretKey, "secret-box key").trim(), "base64"),
  );
  const tls = {
    certPem: readText(config.tls.cert ?? files.tlsCert, "TLS certificate"),
    keyPem: readText(config.tls.key ?? files.tlsKey, "TLS key"),
  };
  const roles = parseRolesOrUsage(values.roles);
  const natsUrl = typeof values["nats-url"] === "string" ? values["nats-url"] : undefined;
  if (roles.size < ROLES.length && !natsUrl)
    throw new UsageError("--roles other than all of them need --nats-url (the shared queue)");
  if (natsUrl && config.store.kind !== "postgres")
    throw new UsageError("--nats-url needs PostgreSQL (--database-url): instances share the store");
  const ackWaitMs =
    values["queue-ack-wait-ms"] === undefined ? 30_000 : Number(values["queue-ack-wait-ms"]);
  if (!Number.isInteger(ackWaitMs) || ackWaitMs < 500)
    throw new UsageError("--queue-ack-wait-ms must be an integer of at least 500");
  const queue = natsUrl
    ? await natsQueue({
        servers: natsUrl,
        ackWaitMs,
        ...(typeof values["queue-prefix"] === "string" ? { prefix: values["queue-prefix"] } : {}),
      })
    : undefined;
  const plannerConfig = await plannerDeps(config.planner, config.catalog_dir, process.env, logger);
  const planner = queue ? { ...plannerConfig, dispatch: incidentDispatch(queue) } : plannerConfig;
  const store = openStore(config);
  await store.migrate();
  const holder = `${hostname()}-${holderId()}`;
  const vault = openVault(config, { store, signer, logger });
  const app = createApp({
    planner,
    vault: vault.vault,
    archiveKind: vault.archive.kind,
    exportsDir: files.exports,
    packets: { dir: files.packets, catalogDir: config.catalog_dir ?? DEFAULT_CATALOG_DIR },
    store,
    signer,
    secretBox,
    logger,
    clientCertDays: config.client_cert_days,
    applianceRateLimit: {
      perMinute: config.appliance_rate_limit.per_minute,
      burst: config.appliance_rate_limit.burst,
    },
    ...(queue ? { queue } : {}),
  });
  const server = roles.has("http") ? await startServer(app, tls, config.listen) : undefined;
  const timers: NodeJS.Timeout[] = [];
  const stops: (() => Promise<void>)[] = [];
  if (roles.has("http")) {
    const expiry = setInterval(() => {
      store
        .expireOrders(new Date().toISOString())
        .catch(() => logger.log("warn", "order expiry failed"));
    }, 60_000);
    timers.push(expiry);
  }
  if (roles.has("planner")) {
    if (queue) {
      // Several workers: an interrupted incident is taken over on redelivery (plan's reclaim),
      // not by a start-up reset that would also take the live workers' incidents.
      const worker = await startIncidentWorker(queue, app.planner, logger);
      stops.push(() => worker.stop());
      const sweep = startScheduledJob(store, "planner-sweep", 30, () => app.planner.sweep(), {
        logger,
        holder,
      });
      stops.push(() => sweep.stop());
    } else {
      // Incidents left queued or interrupted mid-planning by a restart are planned again.
      await app.planner.recover();
      const sweep = setInterval(() => {
        app.planner.sweep().catch(() => logger.log("warn", "incident sweep failed"));
      }, 30_000);
      timers.push(sweep);
    }
  }
  if (roles.has("vault")) {
    const vaultJob = startVaultJob(vault.vault, config.vault.job_interval_s, {
      store,
      logger,
      holder,
    });
    stops.push(() => vaultJob.stop());
  }
  if (roles.has("packets")) {
    // On the first of a month (UTC), last month's missing packets, on one instance only.
    const packetDeps = {
      store,
      signer,
      catalogDir: config.catalog_dir ?? DEFAULT_CATALOG_DIR,
      packetsDir: files.packets,
      archiveKind: vault.archive.kind,
      now: () => new Date(),
      tenants: async () => [...new Set((await store.listEvidenceHeads()).map((h) => h.tenantId))],
    };
    const packetJob = startMonthlyJob(
      store,
      "packets",
      (month) => runMonthlyPackets(packetDeps, month),
      { logger, holder, onDay: 1 },
    );
    stops.push(() => packetJob.stop());
  }
  for (const t of timers) t.unref();
  logger.log("info", "serving", {
    roles: [...roles],
    queue: queue ? queue.kind : "in-process",
    vault_archive: vault.archive.describe,
    ...(server ? { url: server.url } : {}),
    store: store.dialect,
    order_key_id: signer.keyId,
    planner_llm: config.planner.llm ? config.planner.llm.model : "none (L3 only)",
  });
  process.stdout.write(
    server ? `listening on ${server.url}\n` : `worker ready (roles ${[...roles].join(",")})\n`,
  );

  const stop = async (signal: string) => {
    logger.log("info", "stopping", { signal });
    for (const t of timers) clearInterval(t);
    for (const s of stops) await s();
    await server?.close();
    await app.planner.drain();
    await queue?.close();
    await store.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

function parseRolesOrUsage(text: string | boolean | undefined) {
  try {
    return parseRoles(typeof text === "string" ? text : undefined);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Writes an evidence export for an auditor (the same as the operator API's export endpoint). */
async function exportEvidence(values: Record<string, string | boolean | undefined>): Promise<void> {
  const need = (name: string) => {
    const v = values[name];
    if (typeof v !== "string" || v.length === 0) throw new UsageError(`export needs --${name}`);
    return v;
  };
  const configFile = typeof values.config === "string" ? values.config : undefined;
  const dataDir = typeof values["data-dir"] === "string" ? values["data-dir"] : undefined;
  if (!configFile && !dataDir) throw new UsageError("export needs --data-dir or --config");
  const config = loadConfig({
    ...(configFile ? { configFile } : {}),
    ...(dataDir ? { dataDir } : {}),
    overrides: { database_url: values["database-url"] },
  });
  const [tenantId, applianceId, from, to, out] = ["tenant", "appliance", "from", "to", "out"].map(
    need,
  ) as [string, string, string, string, string];
  for (const [name, value] of [
    ["from", from],
    ["to", to],
  ]) {
    if (!Timestamp.safeParse(value).success)
      throw new UsageError(`--${name} must be an RFC 3339 UTC time such as 2026-11-01T00:00:00Z`);
  }
  const basis = ExportRangeBasis.safeParse(values.basis ?? "received_at");
  if (!basis.success) throw new UsageError("--basis is received_at or recorded_at");
  const files = dataDirLayout(config.data_dir);
  const logger = jsonLogger((line) => process.stderr.write(line), config.log_level);
  const signer = createSigner(privateKeyFromPem(readText(files.orderKey, "order-signing key")));
  const store = openStore(config);
  try {
    await store.migrate();
    const { vault, archive } = openVault(config, { store, signer, logger });
    const manifest = await writeExport(
      { store, vault, signer, archiveKind: archive.kind, now: () => new Date() },
      { tenantId, applianceId, from, to, basis: basis.data, directory: out },
    );
    await createAuditLog(store, () => new Date()).record(
      "cli",
      "evidence.exported",
      `${tenantId}/${applianceId}`,
      { from, to, first_seq: manifest.first_seq, last_seq: manifest.last_seq },
    );
    process.stdout.write(
      `exported bundles ${manifest.first_seq}..${manifest.last_seq} (${manifest.checkpoint_count} checkpoints) to ${out}\n`,
    );
  } finally {
    await store.close();
  }
}

/** Writes one month's compliance packet of a tenant to a new folder (and records it). */
async function packet(values: Record<string, string | boolean | undefined>): Promise<void> {
  const need = (name: string) => {
    const v = values[name];
    if (typeof v !== "string" || v.length === 0) throw new UsageError(`packet needs --${name}`);
    return v;
  };
  const configFile = typeof values.config === "string" ? values.config : undefined;
  const dataDir = typeof values["data-dir"] === "string" ? values["data-dir"] : undefined;
  if (!configFile && !dataDir) throw new UsageError("packet needs --data-dir or --config");
  const [tenantId, month, out] = ["tenant", "month", "out"].map(need) as [string, string, string];
  if (!Month.safeParse(month).success)
    throw new UsageError("--month must be a month such as 2026-11 (YYYY-MM)");
  if (existsSync(out)) throw new UsageError(`--out ${out} exists; give a new folder`);
  const config = loadConfig({
    ...(configFile ? { configFile } : {}),
    ...(dataDir ? { dataDir } : {}),
    overrides: { database_url: values["database-url"] },
  });
  const files = dataDirLayout(config.data_dir);
  const logger = jsonLogger((line) => process.stderr.write(line), config.log_level);
  const signer = createSigner(privateKeyFromPem(readText(files.orderKey, "order-signing key")));
  const store = openStore(config);
  try {
    await store.migrate();
    const { archive } = openVault(config, { store, signer, logger });
    const made = await generatePacket(
      {
        store,
        signer,
        catalogDir: config.catalog_dir ?? DEFAULT_CATALOG_DIR,
        packetsDir: files.packets,
        archiveKind: archive.kind,
        now: () => new Date(),
      },
      tenantId,
      month,
    );
    await cp(made.dir, out, { recursive: true, errorOnExist: true, force: false });
    await createAuditLog(store, () => new Date()).record("cli", "packet.generated", tenantId, {
      month,
      files: made.record.files,
      counts: made.record.counts,
    });
    process.stdout.write(
      `packet ${tenantId} ${month}: ${Object.keys(made.record.files).join(", ")}, manifest.json in ${out} (${JSON.stringify(made.record.counts)})\n`,
    );
  } finally {
    await store.close();
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const command = positionals[0];
    if (values.help || !command) throw new UsageError("");
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
    if (command === "init") await init(values);
    else if (command === "serve") await serve(values);
    else if (command === "export") await exportEvidence(values);
    else if (command === "packet") await packet(values);
    else throw new UsageError(`unknown command ${command}`);
    return 0;
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      if ((error as Error).message)
        process.stderr.write(`control-plane: ${(error as Error).message}\n`);
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`control-plane: ${(error as Error).message}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);
