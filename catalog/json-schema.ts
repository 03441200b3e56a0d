import { z } from "zod";
import { Baseline } from "./baseline-schema.ts";
import { ClientExceptions } from "./exceptions-schema.ts";
import { QualificationSet } from "./qualification-schema.ts";
import { editorStepSchema, runbookSchema } from "./runbook-schema.ts";

/** Committed so editors validate YAML as it is typed; a test fails when they are stale. */
export const JSON_SCHEMA_DIR = "catalog/json-schema";

const SCHEMAS = {
  "baseline.schema.json": {
    title: "Compliance baseline (baseline/<name>.yaml)",
    schema: Baseline,
  },
  "exceptions.schema.json": {
    title: "Client exceptions (baseline/exceptions/<client>.yaml)",
    schema: ClientExceptions,
  },
  "qualification.schema.json": {
    title: "Model qualification incidents (qualification/incidents.yaml)",
    schema: QualificationSet,
  },
  "runbook.schema.json": {
    title: "Remediation runbook (runbooks/RB-<AREA>-<NNN>-<name>.yaml)",
    schema: runbookSchema(editorStepSchema()),
  },
} as const;

/** File name → JSON text, generated from the zod schemas the loader uses. */
export function buildJsonSchemas(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(SCHEMAS).map(([file, { title, schema }]) => {
      const json = {
        ...z.toJSONSchema(schema as z.ZodType, { target: "draft-2020-12", reused: "ref" }),
        title,
      };
      return [file, `${JSON.stringify(json, null, 2)}\n`];
    }),
  );
}
