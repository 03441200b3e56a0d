/**
 * The control plane under test for bench/control-plane: a separate process (so the load
 * generator does not share its event loop), built like main.ts from a JSON spec on argv[2].
 */
import type { TLSSocket } from "node:tls";
import { createSigner, privateKeyFromPem } from "#protocol";
import { createApp } from "../../control-plane/src/app.ts";
import { silentLogger } from "../../control-plane/src/logger.ts";
import { createSecretBox } from "../../control-plane/src/pki/index.ts";
import {
  incidentDispatch,
  natsQueue,
  startIncidentWorker,
} from "../../control-plane/src/queue/index.ts";
import { startServer } from "../../control-plane/src/server.ts";
import { openPostgresStore, openSqliteStore } from "../../control-plane/src/store/index.ts";

interface Spec {
  store: { kind: "sqlite"; path: string } | { kind: "postgres"; url: string; schema: string };
  orderKeyPem: string;
  secretKeyB64: string;
  tls: { certPem: string; keyPem: string };
  /** bench/scale: the shared JetStream queue; `role` http (front) or planner (worker). */
  queue?: { url: string; prefix: string; role: "http" | "planner" };
  /** bench/scale's before/after: read the client certificate the way the poll path used to. */
  legacyPeerCertificate?: boolean;
}

/** The previous reader: node:tls's legacy object, every field parsed and hashed per call. */
function legacyPeerCertificate(env: unknown): Uint8Array | undefined {
  const socket = (env as { incoming?: { socket?: Partial<TLSSocket> } } | undefined)?.incoming
    ?.socket;
  const cert = socket?.getPeerCertificate?.(false);
  return cert && "raw" in cert && cert.raw ? new Uint8Array(cert.raw) : undefined;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const store =
  spec.store.kind === "sqlite"
    ? openSqliteStore(spec.store.path)
    : openPostgresStore({
        connectionString: spec.store.url,
        schema: spec.store.schema,
        maxConnections: 16,
      });
const queue = spec.queue
  ? await natsQueue({ servers: spec.queue.url, prefix: spec.queue.prefix })
  : undefined;
const app = createApp({
  ...(queue ? { queue, planner: { dispatch: incidentDispatch(queue) } } : {}),
  store,
  signer: createSigner(privateKeyFromPem(spec.orderKeyPem)),
  secretBox: createSecretBox(Buffer.from(spec.secretKeyB64, "base64")),
  logger: silentLogger,
  applianceRateLimit: { perMinute: 1_000_000, burst: 1_000_000 },
  ...(spec.legacyPeerCertificate ? { peerCertificate: legacyPeerCertificate } : {}),
});
if (queue && spec.queue?.role === "planner") {
  await startIncidentWorker(queue, app.planner, silentLogger);
  process.stdout.write("worker ready\n");
  process.once("SIGTERM", async () => {
    await queue.close();
    await store.close();
    process.exit(0);
  });
} else await serveHttp();

async function serveHttp() {
  const server = await startServer(app, spec.tls, {
    port: 0,
    host: "127.0.0.1",
    // The kept-alive phase measures polls on open connections: do not let idle ones close.
    keepAliveTimeoutMs: 300_000,
    // Every simulated appliance connects from 127.0.0.1.
    maxConnectionsPerAddress: 100_000,
  });
  process.stdout.write(`listening on ${server.url}\n`);
  process.once("SIGTERM", async () => {
    await server.close();
    await app.planner.drain();
    await queue?.close();
    await store.close();
    process.exit(0);
  });
}
