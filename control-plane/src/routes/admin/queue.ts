import { Hono } from "hono";
import type { AppEnv, Services } from "../../env.ts";

/**
 * GET /v1/admin/queue: the work queue's backlog and its dead letters (messages that failed
 * every delivery), newest first, so operators see and replay what the workers could not apply.
 */
export function queueRoutes(s: Services) {
  const app = new Hono<AppEnv>();
  app.get("/queue", async (c) => {
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
  });
  return app;
}
