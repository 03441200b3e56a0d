import type { Services } from "../../env.ts";
import { defineRoute, type Route, tokenOnly } from "../registry.ts";
import { QueueState } from "./responses.ts";

/**
 * GET /v1/admin/queue: the work queue's backlog and its dead letters (messages that failed
 * every delivery), newest first, so operators see and replay what the workers could not apply.
 */
export function queueRoutes(s: Services): Route[] {
  const queue = defineRoute({
    method: "get",
    path: "/queue",
    operationId: "queue",
    summary: "The work queue's backlog and dead letters",
    auth: tokenOnly("admin"),
    response: { schema: QueueState },
    handler: async (c) => {
      if (!s.queue) return c.json({ kind: "none", pending: 0, dead_letters: [] });
      const [stats, dead] = await Promise.all([s.queue.stats(), s.queue.deadLetters(50)]);
      return c.json({
        kind: s.queue.kind,
        pending: stats.pending,
        dead_letter_count: stats.deadLetters,
        dead_letters: dead.map((d) => ({
          tenant_id: d.tenantId,
          kind: d.kind,
          id: d.id,
          deliveries: d.deliveries,
          error: d.error,
          at: d.at,
        })),
      });
    },
  });
  return [queue];
}
