import { chmodSync, rmSync } from "node:fs";
import type { Server } from "node:net";
import { loadCatalog } from "#catalog";
import { loadConfig } from "../config.ts";
import { execArgv } from "../host/linux.ts";
import { errorFields, jsonLogger } from "../log.ts";
import { subcommandArgs } from "../subcommand-args.ts";
import { createHelperServer, policyFromConfig } from "./helper.ts";

const HELP = `compliance-agent privileged-helper: runs the agent's allowlisted root commands

Usage: node agent.mjs privileged-helper --config PATH [--socket PATH]

  --config PATH   the agent's JSON config (host facts; catalog_dir for the baseline's units)
  --socket PATH   listen on this UNIX socket (tests); without it, the socket systemd passes
                  (LISTEN_FDS=1, fd 3: compliance-agent-privileged.socket)

One newline-terminated JSON request per connection; see agent/README.md.`;

/** Entry point of the privileged-helper subcommand; resolves with the exit code. */
export async function helperMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const log = jsonLogger((line) => process.stdout.write(line));
  const values = subcommandArgs(argv, "socket", HELP);
  if (typeof values === "number") return values;
  let server: Server;
  try {
    const config = loadConfig(values.config, env);
    if (config.catalog_dir === undefined) {
      throw new Error("catalog_dir is required: the helper checks units against the baseline");
    }
    const catalog = await loadCatalog(config.catalog_dir);
    server = createHelperServer({
      policy: policyFromConfig(config.host, catalog.baseline),
      exec: execArgv,
      log,
    });
    await listen(server, values.socket, env);
  } catch (error) {
    log.log("error", "privileged helper failed to start", errorFields(error));
    return 1;
  }
  log.log("info", "privileged helper ready", { socket: values.socket ?? "fd:3" });
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => server.close(() => resolve()));
    }
  });
  return 0;
}

function listen(
  server: Server,
  socketPath: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    if (socketPath !== undefined) {
      rmSync(socketPath, { force: true });
      server.listen(socketPath, () => {
        chmodSync(socketPath, 0o660);
        resolve();
      });
      return;
    }
    // sd_listen_fds(3): the socket is ours only when LISTEN_PID names this process.
    if (env.LISTEN_FDS !== "1" || Number(env.LISTEN_PID) !== process.pid) {
      reject(
        new Error("no socket: pass --socket or start through compliance-agent-privileged.socket"),
      );
      return;
    }
    server.listen({ fd: 3 }, () => resolve());
  });
}
