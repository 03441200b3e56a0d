import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { serve } from "@hono/node-server";
import type { App } from "./app.ts";
import { addressKey } from "./middleware/rate-limit/index.ts";

export interface TlsMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface RunningServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * One HTTPS listener for everything. It requests a client certificate but does not reject a
 * handshake without one (`rejectUnauthorized: false`), so enrollment (no certificate yet),
 * the admin API and health checks share the port; the appliance-identity middleware decides
 * per request from the certificate's fingerprint binding (also after session resumption).
 */
export const SERVER_KEEP_ALIVE_MS = 90_000;

/**
 * TLS 1.2 offers only ECDHE key exchange with AEAD ciphers (no CBC, no SHA-1 MAC, no static
 * RSA); TLS 1.3's suites are all AEAD. ECDSA first (our certificates), RSA for an operator's.
 */
export const TLS_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** A connection that has not finished its TLS handshake by then is closed (Node's default: 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Open connections one client address may hold (IPv6 counted by /64); more are closed at once. */
export const MAX_CONNECTIONS_PER_ADDRESS = 64;

export function startServer(
  app: App,
  tls: TlsMaterial,
  options: {
    port: number;
    host: string;
    keepAliveTimeoutMs?: number;
    maxConnectionsPerAddress?: number;
  },
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        port: options.port,
        hostname: options.host,
        createServer,
        serverOptions: {
          cert: tls.certPem,
          key: tls.keyPem,
          requestCert: true,
          rejectUnauthorized: false,
          minVersion: "TLSv1.2",
          ciphers: TLS_CIPHERS,
          honorCipherOrder: true,
          handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        },
      },
      (info: AddressInfo) => {
        const host = options.host.includes(":") ? `[${options.host}]` : options.host;
        resolve({
          port: info.port,
          url: `https://${host}:${info.port}`,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              (server as Server).closeAllConnections();
            }),
        });
      },
    );
    server.once("error", reject);
    const https = server as Server;
    // No TLS 1.2 renegotiation: a connection keeps the client certificate of its handshake, so
    // the appliance-identity middleware reads it once per connection.
    https.on("secureConnection", (socket) => socket.disableRenegotiation());
    https.headersTimeout = 15_000;
    https.requestTimeout = 30_000;
    // Longer than the agent's idle bound (TRANSPORT_IDLE_MS, itself above the 60 s poll): an
    // appliance keeps one connection from poll to poll and the agent is the side that closes it.
    https.keepAliveTimeout = options.keepAliveTimeoutMs ?? SERVER_KEEP_ALIVE_MS;
    capConnections(https, options.maxConnectionsPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS);
  });
}

/**
 * Counts open TCP connections per client address (before any TLS work) and closes one over
 * `max` at once, so one address cannot hold the server's sockets and handshakes.
 */
function capConnections(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const key = addressKey(socket.remoteAddress ?? "unknown");
    const count = (open.get(key) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(key, count);
    socket.once("close", () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
    });
  });
}
