import * as pulumi from "@pulumi/pulumi";

/**
 * After `pulumi up` has made the server, waits (bounded) until the control plane answers
 * `GET /readyz` over TLS, on the primary IP with the control plane's host name as SNI, with a
 * certificate from the stack's CA for that name, and reports the release version the stack
 * installed. Otherwise the update fails with the tail of cloud-init's log (read over SSH with
 * the operator's agent; `logCommand` replaces that argv in tests). A dynamic resource: a
 * plain object whose methods capture only this file's functions (closure serialization).
 */
export interface ReadinessInputs {
  readonly address: string;
  readonly port: number;
  readonly hostname: string;
  readonly caPem: string;
  readonly expectedVersion: string;
  readonly timeoutSeconds: number;
  /** argv that prints the cloud-init log tail; default ssh root@<address> tail … */
  readonly logCommand: readonly string[];
}

export interface ReadinessOutputs extends ReadinessInputs {
  readonly version: string;
  readonly readyAt: string;
}

function readyz(
  inputs: ReadinessInputs,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const https = process.getBuiltinModule("node:https");
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: inputs.address,
      port: inputs.port,
      path: "/readyz",
      servername: inputs.hostname,
      headers: { host: inputs.hostname, accept: "application/json" },
      ca: inputs.caPem,
      agent: false,
      timeout: 10_000,
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        let body: unknown = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          body = {};
        }
        const obj = body !== null && typeof body === "object" ? body : {};
        resolve({ status: res.statusCode ?? 0, body: obj as Record<string, unknown> });
      });
    });
    req.end();
  });
}

function logTail(inputs: ReadinessInputs): string {
  const { spawnSync } = process.getBuiltinModule("node:child_process");
  const [cmd, ...args] = inputs.logCommand;
  if (!cmd) return "";
  const run = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  const text = `${run.stdout ?? ""}${run.stderr ?? ""}`.trim();
  return run.error
    ? `(could not read it: ${run.error.message})`
    : text.split("\n").slice(-40).join("\n");
}

async function waitReady(inputs: ReadinessInputs): Promise<ReadinessOutputs> {
  const deadline = Date.now() + inputs.timeoutSeconds * 1000;
  let last = "no answer yet";
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await readyz(inputs);
      if (answer.status === 200 && answer.body.version === inputs.expectedVersion) {
        return { ...inputs, version: inputs.expectedVersion, readyAt: new Date().toISOString() };
      }
      last =
        answer.status === 200
          ? `it runs version ${String(answer.body.version)}, expected ${inputs.expectedVersion}`
          : `/readyz answered HTTP ${answer.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(2000 * 2 ** Math.min(attempt, 3), 15_000)));
  }
  throw new Error(
    `the control plane at ${inputs.hostname} (${inputs.address}) is not ready after ${inputs.timeoutSeconds} s: ${last}\ncloud-init log (tail):\n${logTail(inputs)}`,
  );
}

const RECHECK = ["address", "port", "hostname", "caPem", "expectedVersion"] as const;

export const readinessProvider: pulumi.dynamic.ResourceProvider<ReadinessInputs, ReadinessOutputs> =
  {
    async create(inputs) {
      const outs = await waitReady(inputs);
      return { id: `${inputs.hostname}@${inputs.expectedVersion}`, outs };
    },
    async diff(_id, olds, news) {
      const changed = RECHECK.filter((k) => olds[k] !== news[k]);
      return { changes: changed.length > 0 || olds.timeoutSeconds !== news.timeoutSeconds };
    },
    async update(_id, olds, news) {
      const recheck = RECHECK.some((k) => olds[k] !== news[k]);
      return {
        outs: recheck
          ? await waitReady(news)
          : { ...news, version: olds.version, readyAt: olds.readyAt },
      };
    },
    async delete() {
      // Nothing to remove: the check leaves no trace outside the state.
    },
  };

export interface ControlPlaneReadinessArgs {
  readonly address: pulumi.Input<string>;
  readonly hostname: string;
  readonly caPem: pulumi.Input<string>;
  readonly expectedVersion: string;
  readonly timeoutSeconds: number;
  readonly port?: number;
  readonly logCommand?: readonly string[];
}

export class ControlPlaneReadiness extends pulumi.dynamic.Resource {
  declare public readonly version: pulumi.Output<string>;
  declare public readonly readyAt: pulumi.Output<string>;

  constructor(name: string, args: ControlPlaneReadinessArgs, opts?: pulumi.CustomResourceOptions) {
    const logCommand = pulumi
      .output(args.address)
      .apply(
        (ip) =>
          args.logCommand ?? [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "StrictHostKeyChecking=accept-new",
            `root@${ip}`,
            "tail",
            "-n",
            "40",
            "/var/log/cloud-init-output.log",
          ],
      );
    super(
      readinessProvider,
      name,
      {
        address: args.address,
        port: args.port ?? 443,
        hostname: args.hostname,
        caPem: args.caPem,
        expectedVersion: args.expectedVersion,
        timeoutSeconds: args.timeoutSeconds,
        logCommand,
        version: undefined,
        readyAt: undefined,
      },
      opts,
      "msp",
      "ControlPlaneReadiness",
    );
  }
}
