import { z } from "zod";
import { ApplianceId, TenantId } from "#protocol";
import { ControlPlaneError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Ids, Planner } from "../planner/index.ts";
import type { Queue, Subscription } from "./port.ts";

export { inProcessQueue } from "./in-process.ts";
export { natsQueue } from "./nats.ts";
export * from "./port.ts";

/** The roles one `serve` process can take (default: all of them). */
export const ROLES = ["http", "ingest", "planner", "vault", "packets"] as const;
export type Role = (typeof ROLES)[number];

export function parseRoles(text: string | undefined): ReadonlySet<Role> {
  if (text === undefined) return new Set(ROLES);
  const roles = text.split(",").map((r) => r.trim());
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r))
      throw new ControlPlaneError(
        "usage",
        `--roles: unknown role "${r}"; use a comma list of ${ROLES.join(", ")}`,
      );
  }
  if (roles.length === 0 || roles[0] === "")
    throw new ControlPlaneError("usage", "--roles: name at least one role");
  return new Set(roles as Role[]);
}

/** An incidents-queue message: which stored incident to plan (the body stays in the Store). */
export const IncidentRef = z.strictObject({
  tenant_id: TenantId,
  appliance_id: ApplianceId,
  incident_id: z.string().min(1).max(200),
});

/** The planner's `dispatch`: publish a stored, queued incident for a planner worker. */
export function incidentDispatch(queue: Queue) {
  return (ids: Ids) =>
    queue.publish({
      tenantId: ids.tenantId,
      kind: "incidents",
      // Dedup: the same incident published again (a sweep, a retried POST) is stored once.
      id: `incident:${ids.tenantId}:${ids.applianceId}:${ids.incidentId}`,
      body: JSON.stringify(
        IncidentRef.parse({
          tenant_id: ids.tenantId,
          appliance_id: ids.applianceId,
          incident_id: ids.incidentId,
        }),
      ),
    });
}

/**
 * A planner worker: consumes `tenant.*.incidents` on the shared durable "planner". Planning is
 * idempotent in the Store (queued → planning is a compare-and-swap claim), so a redelivered
 * message for an incident already planned does nothing.
 */
export function startIncidentWorker(
  queue: Queue,
  planner: Planner,
  logger: Logger,
  concurrency = 4,
): Promise<Subscription> {
  return queue.consume({ kind: "incidents", durable: "planner", concurrency }, async (m) => {
    const parsed = IncidentRef.safeParse(JSON.parse(m.body));
    if (!parsed.success || parsed.data.tenant_id !== m.tenantId) {
      logger.log("warn", "malformed incidents message", { id: m.id, tenant_id: m.tenantId });
      throw new ControlPlaneError(
        "invalid_queue_message",
        "malformed incidents message: it goes to the dead-letter subject",
      );
    }
    await planner.plan(
      {
        tenantId: parsed.data.tenant_id,
        applianceId: parsed.data.appliance_id,
        incidentId: parsed.data.incident_id,
      },
      { reclaim: m.deliveryCount > 1 },
    );
  });
}
