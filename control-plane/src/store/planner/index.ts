import type { Kysely } from "kysely";
import type { Database } from "../schema.ts";
import { attemptQueries } from "./attempts.ts";
import { plannerControlQueries } from "./control.ts";
import { decisionQueries } from "./decisions.ts";
import { flywheelQueries } from "./flywheel.ts";
import { incidentStateQueries } from "./incidents.ts";
import type { PlannerStore } from "./port.ts";
import { qualificationQueries } from "./qualifications.ts";

/** The planner's store (store.planner), composed of its domains; the same on both dialects. */
export function plannerQueries(db: Kysely<Database>): PlannerStore {
  return {
    ...plannerControlQueries(db),
    ...incidentStateQueries(db),
    ...attemptQueries(db),
    ...decisionQueries(db),
    ...flywheelQueries(db),
    ...qualificationQueries(db),
  };
}
