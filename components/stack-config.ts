import { isIP } from "node:net";
import { z } from "zod";
import { ApplianceId, MacAddress, TenantId } from "#protocol";
import { ComponentArgsError } from "./errors.ts";

/**
 * The stack configuration (`stacks/Pulumi.<stack>.yaml`, namespace `msp:`), parsed strictly
 * at the edge: a missing, wrong or unknown key fails with its name and the `pulumi config`
 * command that fixes it. Keys of other namespaces (aws:, cloudflare:, hcloud:) belong to the
 * providers and are left to them. Structured values (lists, objects) arrive as JSON text,
 * numbers as text, exactly as `pulumi.runtime.allConfig()` hands them over.
 */
export const NAMESPACE = "msp";

const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }, schema);
const int = <T extends z.ZodInt>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v), schema);

const Hostname = z
  .string()
  .max(253)
  .regex(
    /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    "expected a lower-case DNS name such as clinics.example.net",
  );
const CloudflareZoneId = z.string().regex(/^[0-9a-f]{32}$/, "expected the 32-hex-digit zone id");
const StackName = z
  .string()
  .regex(
    /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/,
    "expected <organization>/<project>/<stack>, for example organization/msp-compliance/central",
  );
const Cidr = z.string().refine((s) => {
  const [address, bits, ...rest] = s.split("/");
  if (rest.length > 0 || address === undefined || bits === undefined || !/^\d{1,3}$/.test(bits))
    return false;
  const family = isIP(address);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}, "expected a CIDR such as 203.0.113.7/32");

export const TenantStackConfig = z.strictObject({
  kind: z.literal("tenant"),
  /** The practice's name, for labels and the stack's description. */
  clientName: z.string().trim().min(1).max(120),
  /** The tenant id everywhere: DNS label, bucket names, control-plane tenant. */
  clientSlug: TenantId,
  applianceId: ApplianceId.default("appliance-1"),
  applianceMacs: json(
    z
      .array(MacAddress)
      .min(1)
      .max(16)
      .refine((m) => new Set(m).size === m.length, "list each MAC address once"),
  ),
  /** The Cloudflare zone the client's hostname lives in, and its id. */
  dnsZone: Hostname,
  cloudflareZoneId: CloudflareZoneId,
  /** The central stack whose outputs name the control plane (URL, hostname, CA). */
  centralStack: StackName,
  retentionDays: int(z.int().min(2192, "at least 2192 days (six years)").max(36_500)).default(2192),
  coldStorageAfterDays: int(z.int().min(30).max(2191)).default(90),
  enrollmentTokenTtlHours: int(
    z
      .int()
      .min(1)
      .max(90 * 24),
  ).default(168),
  enrollmentTokenGeneration: int(z.int().min(1)).default(1),
});
export type TenantStackConfig = z.infer<typeof TenantStackConfig>;

export const CentralStackConfig = z
  .strictObject({
    kind: z.literal("central"),
    /** The control plane's public name, e.g. cp.example.net. */
    hostname: Hostname,
    cloudflareZoneId: CloudflareZoneId,
    /** The zone the client stacks' hostnames live in (covered by the server certificate). */
    tenantDnsZone: Hostname,
    adminCidrs: json(z.array(Cidr).min(1).max(16)),
    /** Keys to create in the Hetzner project (a key already there: list its name below). */
    sshPublicKeys: json(
      z
        .array(
          z
            .string()
            .regex(
              /^(ssh-ed25519|ecdsa-sha2-nistp256) [A-Za-z0-9+/=]+( .*)?$/,
              "expected an ssh-ed25519 or ecdsa-sha2-nistp256 public key",
            ),
        )
        .max(8),
    ).default([]),
    /** Names of SSH keys already in the Hetzner project (creating those again fails). */
    sshKeyNames: json(z.array(z.string().min(1).max(128)).max(8)).default([]),
    location: z
      .string()
      .regex(/^[a-z]{3}\d$/, "expected a Hetzner location such as fsn1")
      .default("fsn1"),
    /** cx23 (2 vCPU, 4 GB): Hetzner stopped selling cx22 in 2026. */
    serverType: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .default("cx23"),
    image: z
      .string()
      .regex(/^[a-z0-9.-]+$/)
      .default("debian-12"),
    /** The data volume (the control plane's database and archive), which outlives the server. */
    dataVolumeGb: int(z.int().min(10).max(10_240)).default(20),
    /** The https folder the release's files are published in. */
    releaseBaseUrl: z.url({ protocol: /^https$/, error: "expected an https:// URL" }),
    /** manifest.json of `npm run release`, exactly (its signature covers these bytes). */
    releaseManifest: z.string().min(2).max(65_536),
    /** manifest.json.sig in base64 (`openssl base64 -A -in manifest.json.sig`). */
    releaseSignature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, "expected 64 bytes in base64"),
    /** The release public key (PEM), kept apart from every runtime key. */
    releasePublicKey: z.string().regex(/^-----BEGIN PUBLIC KEY-----/, "expected a PEM public key"),
    /** How long `pulumi up` waits for the control plane to answer /readyz. */
    readinessTimeoutSeconds: int(z.int().min(60).max(3600)).default(900),
  })
  .refine((c) => c.sshPublicKeys.length + c.sshKeyNames.length > 0, {
    path: ["sshPublicKeys"],
    message:
      "give at least one SSH key (msp:sshPublicKeys, or msp:sshKeyNames for keys already in the project)",
  });
export type CentralStackConfig = z.infer<typeof CentralStackConfig>;

export type StackConfig = TenantStackConfig | CentralStackConfig;

/** What to type for each key, so an error can print the exact fixing command. */
const EXAMPLES: Record<string, string> = {
  kind: "tenant",
  clientName: '"Riverside Family Clinic"',
  clientSlug: "riverside",
  applianceId: "appliance-1",
  applianceMacs: "--path 'msp:applianceMacs[0]' 52:54:00:12:34:56",
  dnsZone: "clinics.example.net",
  cloudflareZoneId: "0123456789abcdef0123456789abcdef",
  centralStack: "organization/msp-compliance/central",
  retentionDays: "2192",
  coldStorageAfterDays: "90",
  enrollmentTokenTtlHours: "168",
  enrollmentTokenGeneration: "2",
  hostname: "cp.example.net",
  tenantDnsZone: "clinics.example.net",
  adminCidrs: "--path 'msp:adminCidrs[0]' 203.0.113.7/32",
  sshPublicKeys: "--path 'msp:sshPublicKeys[0]' \"ssh-ed25519 AAAA... you@laptop\"",
  location: "fsn1",
  serverType: "cx23",
  sshKeyNames: "--path 'msp:sshKeyNames[0]' ops-laptop",
  dataVolumeGb: "20",
  releaseBaseUrl: "https://downloads.example.net/msp/0.1.0",
  releaseManifest: '"$(cat dist/release/manifest.json)"',
  releaseSignature: '"$(openssl base64 -A -in dist/release/manifest.json.sig)"',
  releasePublicKey: '"$(cat release-key.pub.pem)"',
  readinessTimeoutSeconds: "900",
  image: "debian-12",
};

function fixFor(key: string, stack: string): string {
  const example = EXAMPLES[key] ?? "<value>";
  const value = example.startsWith("--path") ? example : `msp:${key} ${example}`;
  return `pulumi config set --stack ${stack} ${value}`;
}

/**
 * Parses `pulumi.runtime.allConfig()` for `stack`. Throws a ComponentArgsError whose message
 * has one line per problem: the key, what is wrong, and the command that fixes it.
 */
export function parseStackConfig(
  all: Readonly<Record<string, string>>,
  stack: string,
): StackConfig {
  const own: Record<string, string> = {};
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith(`${NAMESPACE}:`)) own[key.slice(NAMESPACE.length + 1)] = value;
  }
  const schema =
    own.kind === "central"
      ? CentralStackConfig
      : own.kind === "tenant"
        ? TenantStackConfig
        : undefined;
  if (schema === undefined) {
    const what =
      own.kind === undefined ? "is missing" : `is "${own.kind}", expected tenant or central`;
    throw new ComponentArgsError(
      "invalid_config",
      `stack ${stack}: msp:kind ${what}; set it with: pulumi config set --stack ${stack} msp:kind tenant (or central)`,
    );
  }
  const parsed = schema.safeParse(own);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys
        .map(
          (k) =>
            `msp:${k} is not a setting of a ${own.kind} stack; remove it with: pulumi config rm --stack ${stack} msp:${k}`,
        )
        .join("\n");
    }
    const key = String(issue.path[0] ?? "");
    const where =
      issue.path.length > 1 ? `msp:${key}[${issue.path.slice(1).join("].[")}]` : `msp:${key}`;
    const problem = own[key] === undefined ? "is missing" : issue.message;
    return `${where}: ${problem}; set it with: ${fixFor(key, stack)}`;
  });
  throw new ComponentArgsError(
    "invalid_config",
    `stack ${stack} (${own.kind}) configuration:\n${lines.join("\n")}`,
    { cause: parsed.error },
  );
}
