import { hostname } from "node:os";
import { sha256Hex } from "#protocol";
import { createApp } from "../app.ts";
import { dataDirLayout, signInSettings, twoPersonSettings } from "../config.ts";
import { ControlPlaneError } from "../errors.ts";
import { startExpiryJob } from "../jobs/expiry.ts";
import { holderId, startMonthlyJob, startScheduledJob } from "../jobs/lease.ts";
import { runMonthlyPackets } from "../packets/index.ts";
import { createSecretBox } from "../pki/index.ts";
import { DEFAULT_CATALOG_DIR, plannerDeps } from "../planner/from-config.ts";
import {
  incidentDispatch,
  natsQueue,
  parseRoles,
  ROLES,
  startIncidentWorker,
} from "../queue/index.ts";
import { startServer } from "../server.ts";
import { openVault, startVaultJob } from "../vault/index.ts";
import { CONFIG_OPTIONS, type Command, optional, usageError } from "./command.ts";
import { commandConfig, openStore, orderSigner, stderrLogger } from "./config.ts";
import { readText } from "./files.ts";

/**
 * `serve`: the HTTP service and the workers of the chosen roles, until SIGTERM or SIGINT.
 * Prints `listening on https://HOST:PORT` (or `worker ready`) on stdout once ready.
 */
export const serveCommand: Command = {
  name: "serve",
  usage: `control-plane serve (--data-dir DIR | --config FILE) [--port N] [--host H] [--database-url URL]
                      [--roles http,ingest,planner,vault,packets] [--nats-url URL] [--queue-prefix P]
                      [--queue-ack-wait-ms N]`,
  options: {
    ...CONFIG_OPTIONS,
    port: { type: "string" },
    host: { type: "string" },
    roles: { type: "string" },
    "nats-url": { type: "string" },
    "queue-prefix": { type: "string" },
    "queue-ack-wait-ms": { type: "string" },
  },
  async run(flags) {
    const portText = optional(flags, "port");
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && !Number.isInteger(port))
      throw usageError("--port must be an integer");
    const config = commandConfig("serve", flags, { port, host: flags.host });
    const files = dataDirLayout(config.data_dir);
    const logger = stderrLogger(config);
    const signer = orderSigner(config);
    const secretBox = createSecretBox(
      Buffer.from(readText(files.secretKey, "secret-box key").trim(), "base64"),
    );
    const tls = {
      certPem: readText(config.tls.cert ?? files.tlsCert, "TLS certificate"),
      keyPem: readText(config.tls.key ?? files.tlsKey, "TLS key"),
    };
    const roles = parseRoles(optional(flags, "roles"));
    const natsUrl = optional(flags, "nats-url");
    if (roles.size < ROLES.length && !natsUrl)
      throw usageError("--roles other than all of them need --nats-url (the shared queue)");
    if (natsUrl && config.store.kind !== "postgres")
      throw usageError("--nats-url needs PostgreSQL (--database-url): instances share the store");
    const ackWaitText = optional(flags, "queue-ack-wait-ms");
    const ackWaitMs = ackWaitText === undefined ? 30_000 : Number(ackWaitText);
    if (!Number.isInteger(ackWaitMs) || ackWaitMs < 500)
      throw usageError("--queue-ack-wait-ms must be an integer of at least 500");
    const prefix = optional(flags, "queue-prefix");
    const queue = natsUrl
      ? await natsQueue({ servers: natsUrl, ackWaitMs, ...(prefix ? { prefix } : {}) })
      : undefined;
    const plannerConfig = await plannerDeps(
      config.planner,
      config.catalog_dir,
      process.env,
      logger,
    );
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
      signIn: signInSettings(config.sign_in),
      twoPersonRule: twoPersonSettings(config.two_person_rule),
      applianceRateLimit: {
        perMinute: config.appliance_rate_limit.per_minute,
        burst: config.appliance_rate_limit.burst,
      },
      ...(config.metrics.scrape_token_file
        ? { metricsScrapeTokenSha256: scrapeTokenHash(config.metrics.scrape_token_file) }
        : {}),
      ...(queue ? { queue } : {}),
    });
    const server = roles.has("http") ? await startServer(app, tls, config.listen) : undefined;
    const timers: NodeJS.Timeout[] = [];
    const stops: (() => Promise<void>)[] = [];
    if (roles.has("http")) {
      const expiry = setInterval(() => {
        store
          .expireOrders(new Date().toISOString())
          .catch((error: unknown) => logger.log("warn", "order expiry failed", { err: error }));
      }, 60_000);
      timers.push(expiry);
      // Expired sessions, enrollment token hashes, leases and sign-in failure rows.
      const expired = startExpiryJob(store, { logger, holder });
      stops.push(() => expired.stop());
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
          app.planner
            .sweep()
            .catch((error: unknown) => logger.log("warn", "incident sweep failed", { err: error }));
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
  },
};

/** The scrape token file's token, kept only as its SHA-256; a malformed one stops start-up. */
function scrapeTokenHash(path: string): string {
  const token = readText(path, "metrics scrape token file").trim();
  if (!/^[A-Za-z0-9._~+/=-]{16,256}$/.test(token)) {
    throw new ControlPlaneError(
      "invalid_config",
      `metrics.scrape_token_file ${path}: expected one token of 16-256 characters [A-Za-z0-9._~+/=-]`,
    );
  }
  return sha256Hex(new TextEncoder().encode(token));
}
