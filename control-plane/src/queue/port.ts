import { TenantId } from "#protocol";
import { ControlPlaneError } from "../errors.ts";

/**
 * The work queue between the control plane's roles (the HTTP front publishes, workers consume).
 * Two adapters: in-process (the embedded default, one process) and NATS JetStream (several
 * processes and machines). Subjects are namespaced by tenant: `tenant.<id>.<kind>`.
 *
 * Delivery is at least once: a message whose handler throws (or whose consumer dies before
 * acknowledging) is delivered again, at most `maxDeliver` times, then moved to the dead-letter
 * list operators see. Publishing the same `id` twice within the dedup window stores it once;
 * handlers must still be idempotent (the Store's compare-and-swap transitions make them so).
 */
export const QUEUE_KINDS = ["evidence", "incidents", "archive"] as const;
export type QueueKind = (typeof QUEUE_KINDS)[number];

export interface PublishRequest {
  readonly tenantId: string;
  readonly kind: QueueKind;
  /** Dedup id (JetStream Nats-Msg-Id): the same id published twice is stored once. */
  readonly id: string;
  readonly body: string;
}

export interface QueueMessage extends PublishRequest {
  /** 1 on first delivery; more when a previous delivery was not acknowledged. */
  readonly deliveryCount: number;
}

export interface ConsumeOptions {
  readonly kind: QueueKind;
  /** Durable consumer name: consumers sharing it share the work (each message to one of them). */
  readonly durable: string;
  /** Only this tenant's messages (the consumer's filter subject); all tenants when absent. */
  readonly tenantId?: string;
  /** Messages handled at once by this consumer. */
  readonly concurrency?: number;
}

export interface DeadLetter extends PublishRequest {
  readonly deliveries: number;
  readonly error: string;
  readonly at: string;
}

export type Handler = (message: QueueMessage) => Promise<void>;

export interface Subscription {
  /** Stops taking new messages and waits for the ones being handled. */
  stop(): Promise<void>;
}

export interface QueueStats {
  /** Published and not yet acknowledged (waiting plus being handled), across consumers. */
  readonly pending: number;
  readonly deadLetters: number;
}

export interface Queue {
  readonly kind: "in-process" | "nats";
  publish(request: PublishRequest): Promise<void>;
  consume(options: ConsumeOptions, handler: Handler): Promise<Subscription>;
  deadLetters(limit: number): Promise<DeadLetter[]>;
  stats(): Promise<QueueStats>;
  close(): Promise<void>;
}

export interface QueueSettings {
  /** Deliveries before a message goes to the dead-letter list. */
  readonly maxDeliver: number;
  /** How long a delivery may stay unacknowledged before it is delivered again. */
  readonly ackWaitMs: number;
  /** Delay before a failed delivery is retried. */
  readonly retryDelayMs: number;
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  maxDeliver: 5,
  ackWaitMs: 30_000,
  retryDelayMs: 1_000,
};

/** `tenant.<id>.<kind>`; the id is DNS-label shaped (no dots or wildcards), checked here. */
export function subjectFor(tenantId: string | undefined, kind: QueueKind): string {
  if (tenantId === undefined) return `tenant.*.${kind}`;
  const parsed = TenantId.safeParse(tenantId);
  if (!parsed.success)
    throw new ControlPlaneError("internal", `tenantId: ${parsed.error.issues[0]?.message}`);
  return `tenant.${tenantId}.${kind}`;
}

export function errorName(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : "unknown";
}
