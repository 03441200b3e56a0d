import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "#protocol";
import type { Logger } from "../logger.ts";

/**
 * Escalation notifications: a JSON POST to the operator's configured URL, signed with
 * HMAC-SHA256 over `<unix seconds>.<body>` (the Stripe/Slack scheme): header
 * `x-msp-timestamp` carries the seconds, `x-msp-signature` carries `v1=<hex>`. A receiver
 * recomputes the MAC with the shared secret, compares in constant time and refuses a
 * timestamp older than its tolerance (replay). Delivery is bounded (timeout, 3 attempts) and
 * never blocks the pipeline.
 */
export const SIGNATURE_HEADER = "x-msp-signature";
export const TIMESTAMP_HEADER = "x-msp-timestamp";

export interface WebhookConfig {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
  readonly attempts: number;
}

export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export interface Webhook {
  /** Resolves with whether it was delivered (a 2xx) within the bounded attempts. */
  send(
    event: Record<string, unknown>,
  ): Promise<{ delivered: boolean; attempts: number; status?: number }>;
}

export function createWebhook(
  config: WebhookConfig,
  logger: Logger,
  now: () => Date = () => new Date(),
): Webhook {
  return {
    async send(event) {
      const body = JSON.stringify(event);
      let status: number | undefined;
      for (let attempt = 1; attempt <= config.attempts; attempt++) {
        const timestamp = String(Math.floor(now().getTime() / 1000));
        try {
          const res = await fetch(config.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              [TIMESTAMP_HEADER]: timestamp,
              [SIGNATURE_HEADER]: webhookSignature(config.secret, timestamp, body),
            },
            body,
            redirect: "error",
            signal: AbortSignal.timeout(config.timeoutMs),
          });
          status = res.status;
          await res.body?.cancel();
          if (res.ok) return { delivered: true, attempts: attempt, status };
        } catch {
          status = undefined;
        }
        if (attempt < config.attempts) await sleep(backoffDelay(attempt, 100, Infinity));
      }
      // The URL may carry a token in its path: log only its origin.
      logger.log("warn", "escalation webhook not delivered", {
        origin: new URL(config.url).origin,
        status,
      });
      return { delivered: false, attempts: config.attempts, ...(status ? { status } : {}) };
    },
  };
}
