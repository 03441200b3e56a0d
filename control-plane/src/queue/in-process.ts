import { ControlPlaneError } from "../errors.ts";
import {
  type ConsumeOptions,
  DEFAULT_QUEUE_SETTINGS,
  type DeadLetter,
  errorName,
  type Handler,
  type PublishRequest,
  type Queue,
  type QueueMessage,
  type QueueSettings,
  type Subscription,
  subjectFor,
} from "./port.ts";

const DEDUP_WINDOW_MS = 120_000;

/**
 * The embedded default: one process, memory only. Same semantics as the JetStream adapter
 * (dedup window, bounded redelivery, dead letters), minus durability across restarts: the
 * Store, not the queue, is the record (incidents are stored before they are published).
 */
export function inProcessQueue(settings: Partial<QueueSettings> = {}): Queue {
  const s = { ...DEFAULT_QUEUE_SETTINGS, ...settings };
  const seen = new Map<string, number>();
  const waiting: QueueMessage[] = [];
  const dead: DeadLetter[] = [];
  const groups = new Map<string, Group>();
  let inFlight = 0;
  let closed = false;

  interface Group {
    readonly options: ConsumeOptions;
    readonly handler: Handler;
    running: number;
    readonly active: Set<Promise<void>>;
    stopped: boolean;
  }

  const matches = (g: Group, m: QueueMessage) =>
    !g.stopped &&
    g.options.kind === m.kind &&
    (g.options.tenantId === undefined || g.options.tenantId === m.tenantId);

  const pump = () => {
    for (let i = 0; i < waiting.length; ) {
      const m = waiting[i] as QueueMessage;
      const group = [...groups.values()].find(
        (g) => matches(g, m) && g.running < (g.options.concurrency ?? 4),
      );
      if (!group) {
        i++;
        continue;
      }
      waiting.splice(i, 1);
      deliver(group, m);
    }
  };

  const deliver = (g: Group, m: QueueMessage) => {
    g.running++;
    inFlight++;
    const work = g
      .handler(m)
      .then(
        () => undefined,
        (error: unknown) => {
          if (m.deliveryCount >= s.maxDeliver) {
            const { deliveryCount, ...rest } = m;
            dead.push({
              ...rest,
              deliveries: deliveryCount,
              error: errorName(error),
              at: new Date().toISOString(),
            });
            return;
          }
          const again = { ...m, deliveryCount: m.deliveryCount + 1 };
          const timer = setTimeout(() => {
            waiting.push(again);
            pump();
          }, s.retryDelayMs);
          timer.unref();
        },
      )
      .finally(() => {
        g.running--;
        inFlight--;
        g.active.delete(work);
        pump();
      });
    g.active.add(work);
  };

  return {
    kind: "in-process",
    async publish(request: PublishRequest) {
      if (closed) throw new ControlPlaneError("queue_closed", "the queue is closed");
      subjectFor(request.tenantId, request.kind); // the same tenant-id check as JetStream
      const now = Date.now();
      for (const [id, at] of seen) if (now - at > DEDUP_WINDOW_MS) seen.delete(id);
      if (seen.has(request.id)) return;
      seen.set(request.id, now);
      waiting.push({ ...request, deliveryCount: 1 });
      pump();
    },
    async consume(options, handler): Promise<Subscription> {
      if (groups.has(options.durable))
        throw new ControlPlaneError(
          "internal",
          `consumer ${options.durable} is already consuming in this process`,
        );
      const group: Group = { options, handler, running: 0, active: new Set(), stopped: false };
      groups.set(options.durable, group);
      pump();
      return {
        async stop() {
          group.stopped = true;
          groups.delete(options.durable);
          while (group.active.size > 0) await Promise.all([...group.active]);
        },
      };
    },
    async deadLetters(limit) {
      return dead.slice(-limit).reverse();
    },
    async stats() {
      return { pending: waiting.length + inFlight, deadLetters: dead.length };
    },
    async close() {
      closed = true;
    },
  };
}
