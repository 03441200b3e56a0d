import { generateKeyPairSync } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/**
 * A recorder over Pulumi's own mocks (`pulumi.runtime.setMocks`), in the shape of
 * pulumi-awsx's tests: every registered resource with its type, name, inputs and parent URN.
 * Providers' computed outputs are filled in plausibly; TLS keys are real (node:crypto), so
 * code that parses them runs for real. Runs in update mode (preview off), so every output
 * resolves.
 */
export interface Recorded {
  readonly type: string;
  readonly name: string;
  /** As the provider receives them (secrets unwrapped). */
  readonly inputs: Record<string, unknown>;
  /** As sent to the engine: a secret input appears wrapped in Pulumi's secret signature. */
  readonly wireInputs: Record<string, unknown>;
  readonly urn: string;
  /** The id the mock gave it (numbers as text for hcloud, as the provider returns them). */
  readonly id: string;
  readonly parentUrn: string;
  readonly additionalSecretOutputs: readonly string[];
  /** Input name → URNs of the resources that input's value came from. */
  readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
  /** URNs the resource depends on (dependsOn and inputs). */
  readonly dependencies: readonly string[];
  /** The resource options the engine receives (what protects a resource from deletion). */
  readonly options: ResourceOptionsOnWire;
}

export interface ResourceOptionsOnWire {
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly ignoreChanges: readonly string[];
  readonly deleteBeforeReplace: boolean;
}

export const CENTRAL_OUTPUTS = {
  controlPlaneUrl: "https://cp.example.net",
  controlPlaneHostname: "cp.example.net",
  controlPlaneCaCertificate:
    "-----BEGIN CERTIFICATE-----\nmock control plane CA\n-----END CERTIFICATE-----\n",
  orderSigningPublicKey: "b3JkZXIta2V5LW9mLXRoZS1jb250cm9sLXBsYW5lLTMy",
};

export function computed(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  switch (type) {
    case "aws:s3/bucket:Bucket": {
      const bucket = `${String(inputs.bucketPrefix ?? name)}0001`;
      return { bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case "aws:kms/key:Key":
      return { arn: `arn:aws:kms:us-east-2:123456789012:key/${name}` };
    case "aws:iam/user:User":
      return { name: `${name}-user`, arn: `arn:aws:iam::123456789012:user/msp/${name}` };
    case "aws:iam/accessKey:AccessKey":
      return { secret: `mock-secret-of-${name}` };
    case "tls:index/privateKey:PrivateKey": {
      const { privateKey, publicKey } =
        inputs.algorithm === "ED25519"
          ? generateKeyPairSync("ed25519")
          : generateKeyPairSync("ec", { namedCurve: "P-256" });
      const pkcs8 = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
      return {
        privateKeyPem: pkcs8,
        privateKeyPemPkcs8: pkcs8,
        publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
      };
    }
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: `-----BEGIN CERTIFICATE-----\nmock ${name}\n-----END CERTIFICATE-----\n` };
    case "tls:index/certRequest:CertRequest":
      return {
        certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nmock ${name}\n-----END CERTIFICATE REQUEST-----\n`,
      };
    case "hcloud:index/primaryIp:PrimaryIp":
      return { ipAddress: "203.0.113.10" };
    case "pulumi:pulumi:StackReference":
      return { name: inputs.name, outputs: CENTRAL_OUTPUTS, secretOutputNames: [] };
    case "pulumi-nodejs:dynamic/msp:ControlPlaneReadiness":
      return { version: inputs.expectedVersion, readyAt: "2026-12-01T00:00:00.000Z" };
    case "pulumi-nodejs:dynamic/msp:ApplianceEnrollment":
      return {
        enrollmentToken: `mock-token-of-${String(inputs.tenantId)}`,
        tokenExpiresAt: "2026-12-02T00:00:00.000Z",
        status: "registered",
      };
    default:
      return {};
  }
}

const NUMERIC_IDS = new Set([
  "hcloud:index/primaryIp:PrimaryIp",
  "hcloud:index/firewall:Firewall",
  "hcloud:index/sshKey:SshKey",
  "hcloud:index/server:Server",
  "hcloud:index/volume:Volume",
]);

/** Sets the mocks for `stack` and returns the live list the program fills. */
export async function recordResources(
  stack: string,
  options: { preview?: boolean } = {},
): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  const seen = new Map<string, { inputs: Record<string, unknown>; id: string }>();
  let counter = 0;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        counter++;
        const inputs = args.inputs as Record<string, unknown>;
        const id = NUMERIC_IDS.has(args.type) ? String(1000 + counter) : `${args.name}-id`;
        seen.set(`${args.type}::${args.name}`, { inputs, id });
        return {
          id,
          state: { ...inputs, ...computed(args.type, args.name, inputs) },
        };
      },
      call(args) {
        if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
          return {
            accountId: "123456789012",
            arn: "arn:aws:iam::123456789012:user/ops",
            userId: "AIDA",
          };
        }
        return {};
      },
    },
    "msp-compliance",
    stack,
    options.preview === true,
  );
  // The mock monitor knows each registration's parent; record it beside the mock's view.
  // (Stack references are read, not registered.)
  const tap = <R extends Tapped>(
    method: "registerResource" | "readResource",
    wire: (
      req: R,
    ) => Pick<
      Recorded,
      "wireInputs" | "additionalSecretOutputs" | "propertyDependencies" | "options" | "dependencies"
    >,
  ) => {
    const monitor = pulumi.runtime.getMonitor() as unknown as Record<
      string,
      (req: R, cb: (err: unknown, res: { getUrn(): string }) => void) => void
    >;
    const original = (monitor[method] as NonNullable<(typeof monitor)[string]>).bind(monitor);
    monitor[method] = (req, cb) =>
      original(req, (err, res) => {
        if (!err) {
          const mocked = seen.get(`${req.getType()}::${req.getName()}`);
          recorded.push({
            type: req.getType(),
            name: req.getName(),
            inputs: mocked?.inputs ?? {},
            id: mocked?.id ?? "",
            urn: res.getUrn(),
            parentUrn: req.getParent(),
            ...wire(req),
          });
        }
        cb(err, res);
      });
  };
  tap<RegisterRequest>("registerResource", (req) => ({
    wireInputs: req.getObject().toJavaScript() as Record<string, unknown>,
    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    propertyDependencies: dependenciesOf(req),
    dependencies: req.getDependenciesList(),
    options: {
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      ignoreChanges: req.getIgnorechangesList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
    },
  }));
  tap<ReadRequest>("readResource", (req) => ({
    wireInputs: req.getProperties().toJavaScript() as Record<string, unknown>,
    additionalSecretOutputs: [],
    propertyDependencies: {},
    dependencies: [],
    options: {
      protect: false,
      retainOnDelete: false,
      ignoreChanges: [],
      deleteBeforeReplace: false,
    },
  }));
  return recorded;
}

interface Tapped {
  getType(): string;
  getName(): string;
  getParent(): string;
}

interface ReadRequest extends Tapped {
  getProperties(): { toJavaScript(): unknown };
}

interface RegisterRequest extends Tapped {
  getObject(): { toJavaScript(): unknown };
  getAdditionalsecretoutputsList(): string[];
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
  getDeletebeforereplace(): boolean;
  getPropertydependenciesMap(): {
    forEach(fn: (value: { getUrnsList(): string[] }, key: string) => void): void;
  };
}

function dependenciesOf(req: RegisterRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  req.getPropertydependenciesMap().forEach((value, key) => {
    out[key] = value.getUrnsList();
  });
  return out;
}

/** Pulumi's wire signature of a secret value. */
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** A value as the provider sees it: Pulumi's secret wrapper removed. */
export function unwrap(value: unknown): unknown {
  return isWireSecret(value) ? (value as { value: unknown }).value : value;
}

export function isWireSecret(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === SECRET_SIG
  );
}

/** The value of an output (mocks run in update mode, so it resolves). */
export function resolvedValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Waits until the registrations of a program have all reached the mock monitor. */
export async function settled(
  outputs: Record<string, pulumi.Output<unknown>>,
  timeoutMs = 10_000,
): Promise<void> {
  // A failed registration leaves its outputs unresolved for ever: fail fast instead of hanging.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`stack outputs unresolved after ${timeoutMs} ms (a registration failed?)`),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([Promise.all(Object.values(outputs).map((o) => resolvedValue(o))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function one(recorded: readonly Recorded[], type: string, name?: string): Recorded {
  const found = recorded.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (found.length !== 1) {
    throw new Error(
      `expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${recorded.map((r) => `${r.type}::${r.name}`).join(", ")}`,
    );
  }
  return found[0] as Recorded;
}
