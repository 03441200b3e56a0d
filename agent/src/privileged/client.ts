import { connect } from "node:net";
import type { ExecRequest, ExecResult, Host } from "../ports.ts";
import { privilegedCommand } from "./commands.ts";
import {
  type HelperRequest,
  HelperResponse,
  MAX_OUTPUT_BYTES,
  MAX_RESPONSE_BYTES,
} from "./wire.ts";

/**
 * The agent's side: wraps the unprivileged Host adapter so that exactly the commands of the
 * privileged table go to the helper's socket and everything else runs as the agent. Without a
 * socket (privileged_socket_path unset) those commands fail with a plain reason instead of being
 * tried without privileges.
 */
export function privilegedHost(inner: Host, socketPath: string | undefined): Host {
  return {
    macAddresses: () => inner.macAddresses(),
    hostname: () => inner.hostname(),
    readFile: (path, max) => inner.readFile(path, max),
    stat: (path) => inner.stat(path),
    readlink: (path) => inner.readlink(path),
    exec(request) {
      if (privilegedCommand(request.argv) === undefined) return inner.exec(request);
      if (socketPath === undefined) {
        return Promise.resolve({
          kind: "failed",
          message: "needs root and no privileged helper is configured",
        });
      }
      return viaHelper(socketPath, request);
    },
  };
}

/** Grace beyond the command's own timeout for the helper to answer. */
const GRACE_MS = 5_000;

export function viaHelper(socketPath: string, request: ExecRequest): Promise<ExecResult> {
  const body: HelperRequest = {
    v: 1,
    argv: [...request.argv],
    timeout_ms: request.timeoutMs,
    max_output_bytes: Math.min(request.maxOutputBytes, MAX_OUTPUT_BYTES),
    ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
  };
  return new Promise<ExecResult>((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = connect(socketPath);
    const finish = (result: ExecResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ kind: "timed_out" }), request.timeoutMs + GRACE_MS);
    const onAbort = () => finish({ kind: "failed", message: "aborted" });
    if (request.signal?.aborted) return onAbort();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("error", (error: NodeJS.ErrnoException) =>
      finish({
        kind: "failed",
        message: `privileged helper unreachable: ${error.code ?? "error"}`,
      }),
    );
    socket.on("connect", () => socket.write(`${JSON.stringify(body)}\n`));
    socket.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_RESPONSE_BYTES)
        return finish({ kind: "failed", message: "helper answer too large" });
      chunks.push(chunk);
    });
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8").trim();
      let parsed: ReturnType<typeof HelperResponse.safeParse>;
      try {
        parsed = HelperResponse.safeParse(JSON.parse(text));
      } catch {
        return finish({ kind: "failed", message: "privileged helper answered garbage" });
      }
      if (!parsed.success)
        return finish({ kind: "failed", message: "privileged helper answered garbage" });
      const result = parsed.data.result;
      finish(
        result.kind === "refused"
          ? {
              kind: "failed",
              message: `privileged helper refused (${result.code}): ${result.message}`,
            }
          : result,
      );
    });
  });
}
