import { readdir, readFile, readlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { z } from "zod";
import type { Baseline } from "#catalog";
import type { ExpectedHost } from "../config.ts";
import { errorFields, type Logger } from "../log.ts";
import type { ExecRequest, ExecResult } from "../ports.ts";
import { type PrivilegedPolicy, privilegedCommand } from "./commands.ts";
import { HelperRequest, type HelperResponse, MAX_REQUEST_BYTES } from "./wire.ts";

/**
 * The privileged helper: a small root service that runs only the commands of the fixed table,
 * each re-validated against its own config and baseline, as argv without a shell. It never
 * changes what a command does: the agent chooses among pre-shaped commands; the helper refuses
 * anything else. It holds no keys, opens no network socket and answers only on its UNIX socket,
 * which systemd creates for the agent's group alone.
 */
export interface HelperDeps {
  readonly policy: PrivilegedPolicy;
  readonly exec: (request: ExecRequest) => Promise<ExecResult>;
  readonly log: Logger;
}

export function policyFromConfig(
  host: ExpectedHost,
  baseline: Pick<Baseline, "allowed_units">,
): PrivilegedPolicy {
  return {
    host,
    baseline,
    readBaselineRuleset: async (path) => {
      try {
        return await readFile(path, "utf8");
      } catch {
        return undefined;
      }
    },
    systemGenerations: async () => {
      const dir = "/nix/var/nix/profiles";
      const names = await readdir(dir).catch(() => [] as string[]);
      const links = names.filter((n) => /^system-\d+-link$/.test(n));
      const targets = await Promise.all(links.map((n) => readlink(`${dir}/${n}`).catch(() => "")));
      return targets.filter((t) => t !== "");
    },
  };
}

export async function handleRequest(
  line: string,
  deps: HelperDeps,
  signal: AbortSignal,
): Promise<HelperResponse> {
  const refuse = (
    code: "malformed" | "unknown_command" | "not_allowed",
    message: string,
  ): HelperResponse => ({
    v: 1,
    result: { kind: "refused", code, message },
  });
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return refuse("malformed", "the request is not JSON");
  }
  const parsed = HelperRequest.safeParse(json);
  if (!parsed.success) return refuse("malformed", z.prettifyError(parsed.error).slice(0, 900));
  const request = parsed.data;
  const command = privilegedCommand(request.argv);
  if (command === undefined)
    return refuse("unknown_command", "no allowlisted command has this shape");
  const problem = await command.validate(request.argv, request.stdin, deps.policy);
  if (problem !== null) return refuse("not_allowed", `${command.id}: ${problem}`);
  deps.log.log("info", "running allowlisted command", { command: command.id });
  const result = await deps.exec({
    argv: request.argv as [string, ...string[]],
    timeoutMs: request.timeout_ms,
    maxOutputBytes: request.max_output_bytes,
    signal,
    ...(request.stdin === undefined ? {} : { stdin: request.stdin }),
  });
  return {
    v: 1,
    result:
      result.kind === "failed"
        ? { kind: "failed", message: result.message.slice(0, 1000) }
        : result,
  };
}

/** Serves one request per connection on `server` (a listening socket from systemd or a path). */
export function serveHelper(server: Server, deps: HelperDeps): Server {
  // A command that started runs to its end or its own timeout, even if the agent hangs up: a
  // half-finished activation or restore is worse than a finished one. Only shutdown stops it.
  const shutdown = new AbortController();
  server.on("close", () => shutdown.abort());
  server.on("connection", (socket: Socket) => {
    socket.on("error", () => socket.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const answer = (response: HelperResponse) => {
      if (!socket.destroyed) socket.end(`${JSON.stringify(response)}\n`);
    };
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      if (done) return;
      const newline = chunk.indexOf(0x0a);
      const part = newline === -1 ? chunk : chunk.subarray(0, newline);
      size += part.byteLength;
      if (size > MAX_REQUEST_BYTES) {
        done = true;
        answer({
          v: 1,
          result: {
            kind: "refused",
            code: "oversized",
            message: `requests are at most ${MAX_REQUEST_BYTES} bytes`,
          },
        });
        return;
      }
      chunks.push(part);
      if (newline === -1) return;
      done = true;
      socket.setTimeout(0);
      handleRequest(Buffer.concat(chunks).toString("utf8"), deps, shutdown.signal).then(
        answer,
        (error: unknown) => {
          deps.log.log("error", "helper request failed", errorFields(error));
          answer({
            v: 1,
            result: { kind: "failed", message: "the helper could not run the command" },
          });
        },
      );
    });
    socket.on("end", () => {
      if (!done) {
        done = true;
        answer({
          v: 1,
          result: {
            kind: "refused",
            code: "malformed",
            message: "the request must end with a newline",
          },
        });
      }
    });
  });
  return server;
}

export function createHelperServer(deps: HelperDeps): Server {
  return serveHelper(createServer({ allowHalfOpen: true }), deps);
}
