import { parse, stringify } from "yaml";
import { z } from "zod";
import { MacAddress } from "#protocol";
import { parseStackConfig, type StackConfig, TenantStackConfig } from "../stack-config.ts";

/**
 * A new client's stack file from a few answers: each answer checked with the stack schema's
 * own field, the file rendered as Pulumi expects (`config:` with namespaced keys, lists as
 * YAML lists), and the exact commands that follow. Pure; the CLI does the I/O.
 */
export interface Answers {
  readonly name: string;
  readonly slug: string;
  readonly macs: readonly string[];
  readonly zone: string;
  readonly zoneId: string;
  readonly centralStack: string;
  readonly applianceId: string;
  readonly awsRegion: string;
}

export const AwsRegion = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "expected an AWS region such as us-east-2");

/** Upper case and dashes are accepted at the prompt and normalised. */
export function normaliseMac(mac: string): string {
  return mac.trim().toLowerCase().replaceAll("-", ":");
}

/** The question, the schema and the default of each answer (the CLI's flags share the keys). */
export const FIELDS = {
  name: { question: "Client (practice) name", schema: TenantStackConfig.shape.clientName },
  slug: {
    question: "Slug (tenant id: lower-case letters, digits, hyphens)",
    schema: TenantStackConfig.shape.clientSlug,
  },
  macs: {
    question: "Appliance MAC address(es), comma-separated",
    schema: z.array(MacAddress).min(1).max(16),
  },
  zone: {
    question: "DNS zone for client host names (e.g. clinics.example.net)",
    schema: TenantStackConfig.shape.dnsZone,
  },
  zoneId: {
    question: "Cloudflare zone id of that zone",
    schema: TenantStackConfig.shape.cloudflareZoneId,
  },
  centralStack: {
    question: "Central stack",
    schema: TenantStackConfig.shape.centralStack,
    default: "organization/msp-compliance/central",
  },
  applianceId: {
    question: "Appliance id",
    schema: TenantStackConfig.shape.applianceId.unwrap(),
    default: "appliance-1",
  },
  awsRegion: {
    question: "AWS region of the evidence bucket",
    schema: AwsRegion,
    default: "us-east-1",
  },
} as const satisfies Record<
  keyof Answers,
  { question: string; schema: z.ZodType; default?: string }
>;

/** Checks one answer; undefined when valid, else the problem. */
export function checkAnswer(key: keyof Answers, value: unknown): string | undefined {
  const result = FIELDS[key].schema.safeParse(value);
  return result.success ? undefined : (result.error.issues[0]?.message ?? "invalid");
}

export function renderStackFile(a: Answers): string {
  const config = {
    "aws:region": a.awsRegion,
    "msp:kind": "tenant",
    "msp:clientName": a.name,
    "msp:clientSlug": a.slug,
    "msp:applianceId": a.applianceId,
    "msp:applianceMacs": [...a.macs],
    "msp:dnsZone": a.zone,
    "msp:cloudflareZoneId": a.zoneId,
    "msp:centralStack": a.centralStack,
  };
  const text = `# ${a.name}: client tenant stack, made by \`npm run new-client\`.\n# Secrets go in with \`pulumi config set --secret\`, never by hand.\n${stringify(
    { config },
    // Quoted: a YAML 1.1 reader takes 52:54:00:12:34:56 for a base-60 number.
    { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" },
  )}`;
  // Refuse to write what the program would refuse to read.
  readStackFile(text, a.slug);
  return text;
}

/** What the program receives for a stack file: `pulumi.runtime.allConfig()`'s shape. */
export function readStackFile(text: string, stack: string): StackConfig {
  const doc = parse(text) as { config?: Record<string, unknown> } | null;
  const all: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc?.config ?? {})) {
    all[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return parseStackConfig(all, stack);
}

export function nextCommands(a: Answers, file: string): string[] {
  return [
    `pulumi stack init ${a.slug}`,
    `pulumi config set --stack ${a.slug} --secret cloudflare:apiToken   # or export CLOUDFLARE_API_TOKEN`,
    "export MSP_ADMIN_TOKEN_FILE=<file holding the control plane's admin token>",
    `npm exec -- pulumi preview --stack ${a.slug} --policy-pack components/policy-pack`,
    `npm exec -- pulumi up --stack ${a.slug} --policy-pack components/policy-pack`,
    `pulumi stack output --stack ${a.slug} enrollmentToken --show-secrets`,
    `git add ${file}`,
  ];
}
