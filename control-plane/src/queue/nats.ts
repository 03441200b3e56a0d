import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  type StreamConfig,
} from "@nats-io/jetstream";
import { connect, headers, nanos } from "@nats-io/transport-node";
import { ControlPlaneError } from "../errors.ts";
import {
  DEFAULT_QUEUE_SETTINGS,
  type DeadLetter,
  errorName,
  QUEUE_KINDS,
  type Queue,
  type QueueKind,
  type QueueSettings,
  subjectFor,
} from "./port.ts";

export interface NatsQueueOptions extends Partial<QueueSettings> {
  readonly servers: string;
  /** Stream name prefix (tests use a fresh one per run so parallel runs do not collide). */
  readonly prefix?: string;
  readonly dedupWindowMs?: number;
}

const HDR_ERROR = "Cp-Error";
const HDR_DELIVERIES = "Cp-Deliveries";
const HDR_ID = "Cp-Id";

/**
 * The JetStream adapter. One work stream holds `<prefix>tenant.<id>.{evidence,incidents,archive}`
 * (work-queue retention: a message is removed once acknowledged); one dead-letter stream holds
 * `<prefix>deadletter.tenant.<id>.<kind>` (limits retention, kept for operators). Consumers are
 * durable pull consumers filtered on one kind and, when given, one tenant. A delivery that fails
 * is retried after `retryDelayMs` until `maxDeliver`, then copied to the dead-letter stream and
 * terminated; a consumer that dies before acknowledging gets its messages redelivered to the
 * others after `ackWaitMs`.
 *
 * Tenant isolation here is by subject and consumer filter only. Per-tenant subject permissions
 * need NATS accounts/users in the server config (not part of this adapter or its tests).
 */
export async function natsQueue(options: NatsQueueOptions): Promise<Queue> {
  const s = { ...DEFAULT_QUEUE_SETTINGS, ...options };
  const prefix = options.prefix ?? "";
  if (!/^[a-z0-9_]*$/.test(prefix))
    throw new ControlPlaneError(
      "usage",
      "--queue-prefix: use lower-case letters, digits and underscores",
    );
  const nc = await connect({ servers: options.servers, name: "control-plane" });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const work = `${prefix.toUpperCase()}CP_WORK`;
  const dead = `${prefix.toUpperCase()}CP_DEAD`;
  const subject = (tenantId: string | undefined, kind: QueueKind) =>
    `${prefix}${subjectFor(tenantId, kind)}`;

  await ensureStream(jsm, {
    name: work,
    subjects: QUEUE_KINDS.map((k) => subject(undefined, k)),
    retention: RetentionPolicy.Workqueue,
    duplicate_window: nanos(options.dedupWindowMs ?? 120_000),
  });
  await ensureStream(jsm, {
    name: dead,
    subjects: [`${prefix}deadletter.>`],
    retention: RetentionPolicy.Limits,
  });

  const consumers = new Set<string>();
  return {
    kind: "nats",
    async publish(request) {
      const h = headers();
      h.set(HDR_ID, request.id);
      await js.publish(subject(request.tenantId, request.kind), request.body, {
        msgID: request.id,
        headers: h,
      });
    },
    async consume(options, handler) {
      const filter = subject(options.tenantId, options.kind);
      // Work-queue streams allow one consumer per subject: the durable is shared, not copied.
      await jsm.consumers.add(work, {
        durable_name: options.durable,
        filter_subject: filter,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(s.ackWaitMs),
        max_deliver: s.maxDeliver,
      });
      consumers.add(options.durable);
      const consumer = await js.consumers.get(work, options.durable);
      const limit = options.concurrency ?? 4;
      const messages = await consumer.consume({ max_messages: limit });
      const active = new Set<Promise<void>>();
      const loop = (async () => {
        for await (const m of messages) {
          const tenantId = m.subject.slice(prefix.length).split(".")[1] ?? "";
          const message = {
            tenantId,
            kind: options.kind,
            id: m.headers?.get(HDR_ID) ?? String(m.seq),
            body: m.string(),
            deliveryCount: m.info.deliveryCount,
          };
          // Tell the server the handler is alive while it runs (a slow model call).
          const heartbeat = setInterval(() => m.working(), Math.max(1000, s.ackWaitMs / 3));
          const job = handler(message)
            .then(
              () => m.ack(),
              async (error: unknown) => {
                if (message.deliveryCount < s.maxDeliver) return m.nak(s.retryDelayMs);
                const h = headers();
                h.set(HDR_ID, message.id);
                h.set(HDR_ERROR, errorName(error));
                h.set(HDR_DELIVERIES, String(message.deliveryCount));
                await js.publish(
                  `${prefix}deadletter.tenant.${tenantId}.${options.kind}`,
                  message.body,
                  { headers: h, msgID: `dead:${message.id}` },
                );
                m.ack(); // handled: moved to the dead-letter stream (term would leave it)
              },
            )
            .catch(() => m.nak(s.retryDelayMs))
            .finally(() => {
              clearInterval(heartbeat);
              active.delete(job);
            });
          active.add(job);
          while (active.size >= limit) await Promise.race(active);
        }
      })();
      return {
        async stop() {
          await messages.close();
          await loop;
          while (active.size > 0) await Promise.all([...active]);
        },
      };
    },
    async deadLetters(limit) {
      const info = await jsm.streams.info(dead);
      const out: DeadLetter[] = [];
      for (
        let seq = info.state.last_seq;
        seq >= info.state.first_seq && out.length < limit;
        seq--
      ) {
        const m = await jsm.streams.getMessage(dead, { seq }).catch(() => null);
        if (!m) continue;
        const [, , tenantId = "", kind = ""] = m.subject.slice(prefix.length).split(".");
        out.push({
          tenantId,
          kind: kind as QueueKind,
          id: m.header.get(HDR_ID),
          body: m.string(),
          deliveries: Number(m.header.get(HDR_DELIVERIES)),
          error: m.header.get(HDR_ERROR),
          at: m.time.toISOString(),
        });
      }
      return out;
    },
    async stats() {
      const [w, d] = await Promise.all([jsm.streams.info(work), jsm.streams.info(dead)]);
      return { pending: w.state.messages, deadLetters: d.state.messages };
    },
    async close() {
      await nc.drain();
    },
  };
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
) {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (error) {
    if (
      (error as { name?: string }).name !== "StreamNotFoundError" &&
      !/not found/i.test(String(error))
    )
      throw error;
    await jsm.streams.add(config);
  }
}

/** Removes a prefix's streams (tests). */
export async function deleteNatsStreams(servers: string, prefix: string): Promise<void> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [`${prefix.toUpperCase()}CP_WORK`, `${prefix.toUpperCase()}CP_DEAD`])
      await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}
