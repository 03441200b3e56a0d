import { z } from "zod";
import { Finding, Severity } from "#protocol";
import { DRIFT_CHECK_IDS } from "./drift-checks.ts";

/** A systemd unit name. Which units a runbook may touch is the baseline's `allowed_units`. */
export const SystemdUnitName = z
  .string()
  .max(128)
  .regex(
    /^[a-zA-Z0-9][a-zA-Z0-9_.@-]*\.(?:service|socket|timer|target|path|mount)$/,
    "use a systemd unit name such as chronyd.service",
  );

/** Reuses protocol's finding code shape: alert codes and finding kinds travel in evidence. */
const SnakeCode = Finding.shape.code;

/**
 * The closed set of parameter types a runbook step can take. Every kind is a scalar with a tight
 * schema, so an order's params (flat scalars, see protocol's OrderParams) can fill any of them
 * and none can carry a command line. `name: true` marks kinds that hold an identifier, where a
 * space already means somebody tried to write a command.
 */
export const PARAM_KINDS = {
  alert_code: { name: true, description: "A snake_case alert code.", schema: SnakeCode },
  backup_job: {
    name: true,
    description: "A backup job name (services.restic.backups.<name>).",
    schema: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,62}$/, "use a lower-case job name such as clinic-data"),
  },
  certificate: {
    name: true,
    description: "A certificate the appliance manages itself.",
    schema: z.enum(["agent-mtls"]),
  },
  check: { name: true, description: "A drift check id.", schema: z.enum(DRIFT_CHECK_IDS) },
  finding: { name: true, description: "A finding kind of a drift check.", schema: SnakeCode },
  generation: {
    name: true,
    description:
      'A NixOS system generation: "expected" (the one pinned by the signed rule bundle) or a number.',
    schema: z.union([z.literal("expected"), z.int().min(1)]),
  },
  generation_count: {
    name: false,
    description: "How many system generations to keep.",
    schema: z.int().min(2).max(100),
  },
  sample_size: {
    name: false,
    description: "How many files a test restore samples.",
    schema: z.int().min(1).max(1000),
  },
  severity: { name: true, description: "An alert severity.", schema: Severity },
  size: {
    name: true,
    description: "A journald size such as 512M or 2G.",
    schema: z.string().regex(/^[1-9][0-9]{0,4}[KMG]$/, "use a size such as 512M or 2G"),
  },
  text: {
    name: false,
    description: "A fixed sentence for a person to read, such as an alert message.",
    schema: z.string().min(1).max(500),
  },
  unit: {
    name: true,
    description: "A systemd unit that matches the baseline's allowed_units.",
    schema: SystemdUnitName,
  },
} as const satisfies Record<string, { name: boolean; description: string; schema: z.ZodType }>;

export type ParamKind = keyof typeof PARAM_KINDS;
export const ParamKind = z.enum(Object.keys(PARAM_KINDS) as [ParamKind, ...ParamKind[]]);
