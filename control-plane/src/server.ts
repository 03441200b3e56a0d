import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { App } from "./app.ts";

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

export function startServer(
  app: App,
  tls: TlsMaterial,
  options: { port: number; host: string; keepAliveTimeoutMs?: number },
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
  });
}
