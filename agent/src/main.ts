/**
 * The agent's entry point: the only place concrete objects are built (real clock, host,
 * HTTPS transport, systemd notifier, JSON logs on stdout). Run as
 *   node agent.mjs --config /etc/compliance-agent/config.json
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runAgent } from "./agent.ts";
import { loadConfig } from "./config.ts";
import { flywheelRules } from "./flywheel/index.ts";
import { systemHost } from "./host.ts";
import { describeError, jsonLogger } from "./log.ts";
import { systemdNotifier } from "./notify.ts";
import { noChecks, noExecutor, systemClock } from "./ports.ts";
import { loadRunbookAllowlist } from "./runbook-allowlist.ts";
import { simulatedChecks, simulatedExecutor } from "./simulated.ts";
import { httpsTransport } from "./transport.ts";
import { AGENT_VERSION } from "./version.ts";

const HELP = `compliance-agent ${AGENT_VERSION}: the MSP compliance appliance agent (pull-only, no listening socket)

Usage: node agent.mjs [--config PATH]

  --config PATH   the JSON config file (default /etc/compliance-agent/config.json)
  --lab           LAB MODE: simulated checks and a simulated runbook executor that touch
                  nothing on this host (every healing step is recorded as lab.simulated)
  --version       print the version and exit
  --help          print this help and exit

Environment (paths to secret files only): COMPLIANCE_AGENT_EVIDENCE_KEY_PATH,
COMPLIANCE_AGENT_TLS_KEY_PATH, COMPLIANCE_AGENT_ENROLLMENT_TOKEN_PATH. NOTIFY_SOCKET (set by
systemd) turns on READY/WATCHDOG/STOPPING notifications through systemd-notify.
Logs are JSON lines on stdout; state lives in the config's state_dir (see agent/README.md).
SIGTERM or SIGINT: finish the current step, record a stopping bundle, exit 0.`;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
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
      log.log("warn", "LAB MODE: simulated checks and executor; nothing on this host changes");
    const watchdogUsec = Number(env.WATCHDOG_USEC ?? "0");
    const allowlist = await loadRunbookAllowlist(config.catalog_dir);
    await runAgent(
      {
        config,
        agentVersion: AGENT_VERSION,
        clock: systemClock,
        host: systemHost,
        log,
        transport: (client) =>
          httpsTransport({
            baseUrl: config.control_plane_url,
            caPem,
            ...(client ? { clientKeyPem: client.keyPem, clientCertPem: client.certPem } : {}),
            timeoutMs: config.request_timeout_s * 1000,
          }),
        checks: lab ? simulatedChecks() : noChecks,
        executor: lab ? simulatedExecutor() : noExecutor,
        allowlist,
        l1Rules: flywheelRules({ stateDir: config.state_dir, allowlist }),
        notify: systemdNotifier(env),
        ...(watchdogUsec > 0 ? { watchdogMs: Math.max(1000, watchdogUsec / 2000) } : {}),
      },
      stop.signal,
    );
    return 0;
  } catch (error) {
    log.log("error", "agent failed", { error: describeError(error) });
    return 1;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      config: { type: "string", default: "/etc/compliance-agent/config.json" },
      lab: { type: "boolean", default: false },
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
