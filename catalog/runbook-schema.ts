import { z } from "zod";
import { CheckId, ParamName, RunbookId, Tier } from "#protocol";
import { ACTION_NAMES, ACTIONS, type ActionSpec } from "./actions.ts";
import { Citation } from "./citation.ts";
import { Duration } from "./duration.ts";
import { EvidenceType } from "./evidence-types.ts";
import { PARAM_KINDS, ParamKind } from "./param-kinds.ts";
import { FindingKind, Text, uniqueArray } from "./shared-schemas.ts";

/** A step parameter filled at run time from the runbook's own params (the order's params). */
export const ParamRef = z.strictObject({ param: ParamName });
export type ParamRef = z.infer<typeof ParamRef>;

export const ParamValue = z.union([z.string().max(256), z.number(), z.boolean(), ParamRef]);
export type ParamValue = z.infer<typeof ParamValue>;

export function isParamRef(value: ParamValue): value is ParamRef {
  return typeof value === "object" && value !== null;
}

/**
 * A step as the loader reads it: an action name and its params. Which actions exist and what
 * their params must be is checked by the lint against the action registry, so an author gets
 * "unknown action" or "looks like a shell command" rather than a wall of union errors.
 */
export const Step = z.strictObject({
  action: z.string().min(1).max(64),
  params: z.record(z.string(), ParamValue).optional(),
});
export type Step = z.infer<typeof Step>;

export const RunbookParam = z.strictObject({
  name: ParamName,
  kind: ParamKind,
  description: Text(5, 300),
});

export const Trigger = z.strictObject({
  check: CheckId,
  findings: uniqueArray(FindingKind).min(1),
});

/** Built from a step schema, so editors get a stricter per-action variant (see json-schema.ts). */
export function runbookSchema<S extends z.ZodType>(step: S) {
  return z.strictObject({
    id: RunbookId,
    /** Bumped on every change; evidence records which version ran (protocol healing_step). */
    version: z.int().min(1),
    title: Text(3, 120),
    description: Text(10, 1200),
    citations: uniqueArray(Citation).min(1),
    triggers: z.array(Trigger).min(1),
    tiers: uniqueArray(Tier).min(1),
    /** True when it may interrupt the clinic: it then runs only in the maintenance window. */
    disruptive: z.boolean(),
    params: z.array(RunbookParam).max(8).optional(),
    preconditions: z.array(step),
    steps: z.array(step).min(1).max(20),
    verification: z.array(step),
    rollback: z.array(step),
    evidence: uniqueArray(EvidenceType).min(1),
    cooldown: Duration("1m", "30d"),
    max_attempts: z.int().min(1).max(5),
    timeout: Duration("10s", "2h"),
  });
}

export const Runbook = runbookSchema(Step);
export type Runbook = z.infer<typeof Runbook>;

export const STEP_PHASES = ["preconditions", "steps", "verification", "rollback"] as const;
export type StepPhase = (typeof STEP_PHASES)[number];

/** For editors only: one branch per action, with that action's typed params. */
export function editorStepSchema() {
  const branches = ACTION_NAMES.map((name) => {
    const spec: ActionSpec = ACTIONS[name];
    const params = z.strictObject(
      Object.fromEntries(
        Object.entries(spec.params).map(([param, kind]) => [
          param,
          z.union([PARAM_KINDS[kind].schema, ParamRef]),
        ]),
      ),
    );
    return z
      .strictObject({
        action: z.literal(name),
        params: Object.keys(spec.params).length === 0 ? params.optional() : params,
      })
      .describe(spec.description);
  });
  return z.discriminatedUnion(
    "action",
    branches as [(typeof branches)[number], ...typeof branches],
  );
}
