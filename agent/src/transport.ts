import { request as httpsRequest } from "node:https";
import type { z } from "zod";
import { type ApplianceRoute, MAX_APPLIANCE_BODY_BYTES, Problem, tryParseMessage } from "#protocol";
import { AgentError } from "./errors.ts";

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
}

export function httpsTransport(options: HttpsTransportOptions): Transport {
  const base = new URL(options.baseUrl);
  return {
    post(route, body, signal) {
      if (route.clientCertificate && !(options.clientKeyPem && options.clientCertPem)) {
        return Promise.reject(
          new AgentError(
            "unreachable",
            `${route.path} needs the client certificate (enroll first)`,
          ),
        );
      }
      const payload = Buffer.from(isRawJson(body) ? body.rawJson : JSON.stringify(body), "utf8");
      const url = new URL(route.path, base);
      return new Promise<TransportAnswer>((resolve, reject) => {
        const req = httpsRequest(
          url,
          {
            method: "POST",
            ca: options.caPem,
            ...(route.clientCertificate
              ? { key: options.clientKeyPem, cert: options.clientCertPem }
              : {}),
            agent: false,
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
        req.on("timeout", () =>
          req.destroy(new AgentError("unreachable", `${route.path}: timed out`)),
        );
        req.on("error", (cause) => reject(wrap(cause, route.path)));
        req.end(payload);
      });
    },
  };
}

function wrap(cause: unknown, path: string): AgentError {
  if (cause instanceof AgentError) return cause;
  const code = (cause as { code?: unknown })?.code;
  const text = typeof code === "string" ? code : String((cause as Error)?.message ?? cause);
  return new AgentError("unreachable", `${path}: ${text}`, { cause });
}
