import type { z } from "zod";
import type { OrderParams, Tier } from "#protocol";

/**
 * The records of signed orders, shared by the orders part of the Store port and the planner's
 * part (orders issued for incidents), so neither port imports the other.
 */
export type OrderStatus =
  | "pending"
  | "delivered"
  | "succeeded"
  | "failed"
  | "rejected"
  | "expired"
  | "withdrawn";

/** Why, when and by whom an order was withdrawn (the kill switch or a site's audit-only mode). */
export interface OrderWithdrawal {
  readonly reason: "kill_switch" | "audit_only";
  readonly by: string;
  readonly at: string;
  /** The status it had: pending (never delivered) or delivered (the appliance may hold it). */
  readonly previousStatus: "pending" | "delivered";
}

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
  readonly withdrawal: OrderWithdrawal | null;
}

export interface NewOrder {
  readonly orderId: string;
  readonly runbookId: string;
  readonly params: z.infer<typeof OrderParams>;
  readonly tier: Tier;
  readonly issuedAt: string;
  readonly expiresAt: string;
}
