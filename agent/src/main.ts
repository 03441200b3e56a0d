/**
 * The agent's entry point: the only place concrete objects are built (real clock, host,
 * HTTPS transport, systemd notifier, JSON logs on stdout). Run as
 *   node agent.mjs --config /etc/compliance-agent/config.json
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadCatalog } from "#catalog";
import { runAgent } from "./agent.ts";
import { createCheckRunner, everyInterval } from "./checks/runner.ts";
import { type AgentConfig, loadConfig } from "./config.ts";
import { flywheelRules } from "./flywheel/index.ts";
import { createHealing } from "./healing/index.ts";
import { withControlRunbooks } from "./healing/kill-switch.ts";
import { cleanLabState, createLabHost, writeLabStateFile } from "./host/lab/index.ts";
import { linuxHost } from "./host/linux.ts";
import { describeError, errorFields, jsonLogger } from "./log.ts";
import { systemdNotifier } from "./notify.ts";
import { type Host, noExecutor, systemClock } from "./ports.ts";
import { privilegedHost } from "./privileged/client.ts";
import { helperMain } from "./privileged/helper-main.ts";
import { restoreTestMain } from "./restore-test/main.ts";
import { catalogAllowlist } from "./runbook-allowlist.ts";
import { statusMain } from "./status-command.ts";
import { httpsTransport } from "./transport.ts";
import { AGENT_VERSION } from "./version.ts";

const HELP = `compliance-agent ${AGENT_VERSION}: the MSP compliance appliance agent (pull-only, no listening socket)

Usage: node agent.mjs [--config PATH]
       node agent.mjs privileged-helper --config PATH [--socket PATH]
       node agent.mjs restore-test --config PATH --instance <files>-<job>
       node agent.mjs status [--config PATH] [--format text|json]

  --config PATH   the JSON config file (default /etc/compliance-agent/config.json)
  --lab           LAB MODE: the six checks and the healer run against a simulated NixOS
                  appliance (the lab host); nothing on this host is read or changed
  --lab-state PATH  the lab host's state file (default <state_dir>/lab-host.json, created
                  clean when absent); another process may rewrite it to inject drift
  --version       print the version and exit
  --help          print this help and exit

Environment (paths to secret files only): COMPLIANCE_AGENT_EVIDENCE_KEY_PATH,
COMPLIANCE_AGENT_TLS_KEY_PATH, COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH. NOTIFY_SOCKET (set by
systemd) turns on READY/WATCHDOG/STOPPING notifications through systemd-notify.
Logs are JSON lines on stdout; state lives in the config's state_dir (see agent/README.md).
SIGTERM or SIGINT: finish the current step, record a stopping bundle, exit 0.`;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv[0] === "privileged-helper") return helperMain(argv.slice(1), env);
  if (argv[0] === "restore-test") return restoreTestMain(argv.slice(1), env);
  if (argv[0] === "status") return statusMain(argv.slice(1), env);
  const log = jsonLogger((line) => process.stdout.write(line));
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n\n${HELP}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (args.values.version) {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  const stop = new AbortController();
  let shutdownTimeoutS = 20;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.log("info", "stop requested", { signal });
      stop.abort();
      // Last resort: every acknowledged event is already committed, so leaving is safe.
      setTimeout(
        () => {
          log.log("error", "shutdown timed out; exiting", { after_s: shutdownTimeoutS + 5 });
          process.exit(0);
        },
        (shutdownTimeoutS + 5) * 1000,
      ).unref();
    });
  }
  try {
    const config = loadConfig(args.values.config, env);
    shutdownTimeoutS = config.shutdown_timeout_s;
    const caPem = readFileSync(config.ca_bundle_path, "utf8");
    const lab = args.values.lab;
    if (lab)
      log.log("warn", "LAB MODE: checks see a simulated appliance; nothing on this host changes");
    const catalog = config.catalog_dir ? await loadCatalog(config.catalog_dir) : undefined;
    // Unprivileged; the commands of the privileged table go to the helper's socket.
    const host = lab
      ? openLabHost(config, args.values["lab-state"])
      : privilegedHost(linuxHost, config.privileged_socket_path);
    const checkTimeoutMs = Math.min(config.step_timeout_s, 60) * 1000;
    const checks = createCheckRunner({
      host,
      baseline: catalog?.baseline,
      expected: config.host,
      restoreTestDir: join(config.state_dir, "restore-tests"),
      clock: systemClock,
      checkTimeoutMs,
      toolTimeoutMs: Math.min(config.request_timeout_s * 1000, checkTimeoutMs),
    });
    const watchdogUsec = Number(env.WATCHDOG_USEC ?? "0");
    // The shipped runbooks: every order and every flywheel rule must name one of them.
    const shipped = catalog ? catalogAllowlist(catalog) : { has: () => false };
    const l1Rules = flywheelRules({ stateDir: config.state_dir, allowlist: shipped });
    await runAgent(
      {
        config,
        agentVersion: AGENT_VERSION,
        clock: systemClock,
        host,
        log,
        transport: (client) =>
          httpsTransport({
            baseUrl: config.control_plane_url,
            caPem,
            ...(client ? { clientKeyPem: client.keyPem, clientCertPem: client.certPem } : {}),
            timeoutMs: config.request_timeout_s * 1000,
          }),
        checks: everyInterval(checks, config.healing.check_interval_s * 1000, systemClock),
        executor: noExecutor,
        ...(catalog
          ? {
              healing: createHealing({
                catalog,
                config,
                host,
                checks,
                clock: systemClock,
                rules: l1Rules,
              }),
            }
          : {}),
        allowlist: withControlRunbooks(shipped),
        l1Rules,
        notify: systemdNotifier(env),
        console: (line) => process.stderr.write(`compliance-agent: ${line}\n`),
        ...(watchdogUsec > 0 ? { watchdogMs: Math.max(1000, watchdogUsec / 2000) } : {}),
      },
      stop.signal,
    );
    return 0;
  } catch (error) {
    log.log("error", "agent failed", errorFields(error));
    return 1;
  }
}

/** The lab appliance, from its state file; a missing file starts a clean one with our MACs. */
function openLabHost(config: AgentConfig, stateFile: string | undefined): Host {
  const file = stateFile ?? join(config.state_dir, "lab-host.json");
  if (!existsSync(file)) {
    writeLabStateFile(file, { ...cleanLabState(new Date()), macs: linuxHost.macAddresses() });
  }
  return createLabHost({
    stateFile: file,
    restoreTestDir: join(config.state_dir, "restore-tests"),
  });
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      config: { type: "string", default: "/etc/compliance-agent/config.json" },
      lab: { type: "boolean", default: false },
      "lab-state": { type: "string" },
      help: { type: "boolean", default: false },
      version: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${describeError(error)}\n`);
    process.exitCode = 1;
  },
);
