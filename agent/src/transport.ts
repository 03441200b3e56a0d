import { Agent, request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import type { z } from "zod";
import { type ApplianceRoute, MAX_APPLIANCE_BODY_BYTES, Problem, tryParseMessage } from "#protocol";
import { AgentError, isAgentError } from "./errors.ts";

/**
 * How the agent talks to the control plane: one POST per call, JSON in, JSON out. A 2xx answer
 * gives the parsed JSON body (still untrusted: callers verify it with protocol/); a non-2xx answer
 * gives its RFC 9457 problem when it has a valid one. A network failure, timeout or unparsable
 * answer throws AgentError "unreachable" / "bad_response". Tests and the lab can plug in another
 * implementation; production uses `httpsTransport`.
 */
export type TransportAnswer =
  | { readonly ok: true; readonly status: number; readonly body: unknown }
  | { readonly ok: false; readonly status: number; readonly problem: Problem | null };

/**
 * A request body already serialized by the agent itself (an evidence upload assembled from the
 * journal's stored JSON), so a batch of bundles is never parsed and re-serialized.
 */
export interface RawJson {
  readonly rawJson: string;
}

export const isRawJson = (body: unknown): body is RawJson =>
  typeof body === "object" && body !== null && typeof (body as RawJson).rawJson === "string";

export interface Transport {
  post<Req extends z.ZodType, Res extends z.ZodType>(
    route: ApplianceRoute<Req, Res>,
    body: z.infer<Req> | RawJson,
    signal?: AbortSignal,
  ): Promise<TransportAnswer>;
}

export interface HttpsTransportOptions {
  readonly baseUrl: string;
  /** PEM of the CA(s) the server certificate must chain to; no system CAs. */
  readonly caPem: string;
  /** The mTLS client key and certificate; routes that need one fail without it. */
  readonly clientKeyPem?: string;
  readonly clientCertPem?: string;
  readonly timeoutMs: number;
  /**
   * How long the kept-alive mTLS connection may sit idle before the agent closes it. Longer than
   * the poll interval (so one connection serves poll after poll), shorter than the control plane's
   * keep-alive timeout (so the agent, not the server, closes it: no request on a dying socket).
   */
  readonly idleMs?: number;
}

/** Connection counters of one transport: how many TLS handshakes, how many of them resumed. */
export interface TransportStats {
  readonly handshakes: number;
  readonly resumed: number;
  readonly requests: number;
}

export interface HttpsTransport extends Transport {
  stats(): TransportStats;
  /** Closes the kept-alive connection (shutdown). */
  close(): void;
}

/** Default idle bound: above a 60 s poll with 10 % jitter, below the server's 90 s keep-alive. */
export const TRANSPORT_IDLE_MS = 80_000;

const RETRYABLE_ON_REUSED = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/**
 * The mTLS routes share one kept-alive connection (one https.Agent, at most one socket, TLS
 * session cached for resumption when it must reconnect), so poll and evidence push cost one
 * handshake per idle bound, not one per request. Routes without a client certificate (enrollment)
 * use a one-off connection that never carries the key. A request that fails because the server
 * closed the reused idle socket under it is retried once on a fresh connection.
 */
export function httpsTransport(options: HttpsTransportOptions): HttpsTransport {
  const base = new URL(options.baseUrl);
  const counters = { handshakes: 0, resumed: 0, requests: 0 };
  const mtls =
    options.clientKeyPem && options.clientCertPem
      ? new Agent({
          keepAlive: true,
          maxSockets: 1,
          maxTotalSockets: 1,
          maxFreeSockets: 1,
          maxCachedSessions: 1,
          timeout: options.idleMs ?? TRANSPORT_IDLE_MS,
          ca: options.caPem,
          key: options.clientKeyPem,
          cert: options.clientCertPem,
          minVersion: "TLSv1.2",
        })
      : undefined;
  const counted = new WeakSet<object>();
  const count = (socket: TLSSocket) => {
    if (counted.has(socket)) return;
    counted.add(socket);
    socket.once("secureConnect", () => {
      counters.handshakes++;
      if (socket.isSessionReused?.()) counters.resumed++;
    });
  };
  const once = (
    route: ApplianceRoute<z.ZodType, z.ZodType>,
    payload: Buffer,
    signal: AbortSignal | undefined,
  ) =>
    new Promise<TransportAnswer>((resolve, reject) => {
      counters.requests++;
      const req = httpsRequest(
        new URL(route.path, base),
        {
          method: "POST",
          ...(route.clientCertificate && mtls
            ? { agent: mtls }
            : { agent: false, ca: options.caPem }),
          minVersion: "TLSv1.2",
          timeout: options.timeoutMs,
          signal,
          headers: {
            "content-type": "application/json",
            "content-length": payload.byteLength,
            accept: "application/json, application/problem+json",
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.byteLength;
            if (size > MAX_APPLIANCE_BODY_BYTES) {
              req.destroy(new AgentError("bad_response", `${route.path}: answer too large`));
            } else chunks.push(chunk);
          });
          res.on("error", (cause) => reject(wrap(cause, route.path)));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
            } catch (cause) {
              if (status >= 200 && status < 300) {
                reject(
                  new AgentError("bad_response", `${route.path}: answer is not JSON`, { cause }),
                );
                return;
              }
              json = null;
            }
            if (status >= 200 && status < 300) resolve({ ok: true, status, body: json });
            else {
              const problem = tryParseMessage(Problem, json);
              resolve({ ok: false, status, problem: problem.ok ? problem.value : null });
            }
          });
        },
      );
      req.on("socket", (socket) => count(socket as TLSSocket));
      req.on("timeout", () =>
        req.destroy(new AgentError("unreachable", `${route.path}: timed out`)),
      );
      req.on("error", (cause) => {
        const code = (cause as { code?: unknown }).code;
        if (req.reusedSocket && typeof code === "string" && RETRYABLE_ON_REUSED.has(code)) {
          reject(
            new AgentError(
              "stale_connection",
              "the kept-alive connection was closed by the server",
              { cause },
            ),
          );
        } else reject(wrap(cause, route.path));
      });
      req.end(payload);
    });
  return {
    async post(route, body, signal) {
      if (route.clientCertificate && !mtls) {
        throw new AgentError(
          "unreachable",
          `${route.path} needs the client certificate (enroll first)`,
        );
      }
      const payload = Buffer.from(isRawJson(body) ? body.rawJson : JSON.stringify(body), "utf8");
      try {
        return await once(route, payload, signal);
      } catch (error) {
        if (!isAgentError(error, "stale_connection")) throw error;
        return await once(route, payload, signal).catch((cause) => {
          throw isAgentError(cause, "stale_connection") ? wrap(cause.cause, route.path) : cause;
        });
      }
    },
    stats: () => ({ ...counters }),
    close: () => mtls?.destroy(),
  };
}

function wrap(cause: unknown, path: string): AgentError {
  if (cause instanceof AgentError) return cause;
  const code = (cause as { code?: unknown })?.code;
  const text = typeof code === "string" ? code : String((cause as Error)?.message ?? cause);
  return new AgentError("unreachable", `${path}: ${text}`, { cause });
}
