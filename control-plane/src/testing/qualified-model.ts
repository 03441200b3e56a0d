import type { Catalog, QualificationCase } from "#catalog";
import { INCIDENT_BEGIN, INCIDENT_END, type PlannerInput } from "../planner/prompt.ts";
import { choose, type ModelReply, type ModelRequest } from "./model-server.ts";

/** The planner input a model request carries (between the prompt's data markers). */
export function requestInput(r: ModelRequest): PlannerInput {
  const user = r.body.messages.find((m) => m.role === "user")?.content ?? "";
  return JSON.parse(user.split(INCIDENT_BEGIN)[1]?.split(INCIDENT_END)[0] ?? "null");
}

/** The qualification case whose incident a request carries. */
export function caseOf(catalog: Catalog, r: ModelRequest): QualificationCase | undefined {
  const d = requestInput(r);
  const key = (x: unknown) => JSON.stringify(x);
  return catalog.qualification?.cases.find(
    (c) =>
      c.incident.check_id === d.check_id &&
      key(c.incident.findings) === key(d.findings) &&
      key(c.incident.previous_attempts) === key(d.previous_attempts) &&
      (c.incident.local_l1?.runbook_id ?? null) ===
        (d.local_l1.attempted ? d.local_l1.runbook_id : null),
  );
}

/** A model that has read the labels: it answers every qualification case as labelled. */
export const perfectModel =
  (catalog: Catalog) =>
  (r: ModelRequest): ModelReply =>
    choose(caseOf(catalog, r)?.expect ?? "escalate", 0.9, "as labelled");
