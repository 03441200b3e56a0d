import type { z } from "zod";
import type { OrderParams, Tier } from "#protocol";

/**
 * The records of signed orders, shared by the orders part of the Store port and the planner's
 * part (orders issued for incidents), so neither port imports the other.
 */
export type OrderStatus = "pending" | "delivered" | "succeeded" | "failed" | "rejected" | "expired";

export interface StoredOrder {
  readonly orderId: string;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly seq: number;
  readonly runbookId: string;
  readonly params: z.infer<typeof OrderParams>;
  readonly tier: Tier;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly status: OrderStatus;
  readonly result: unknown;
}

export interface NewOrder {
  readonly orderId: string;
  readonly runbookId: string;
  readonly params: z.infer<typeof OrderParams>;
  readonly tier: Tier;
  readonly issuedAt: string;
  readonly expiresAt: string;
}
