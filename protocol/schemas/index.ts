export * from "./api.ts";
export * from "./common.ts";
export * from "./decision.ts";
export * from "./enrollment.ts";
export * from "./evidence.ts";
export * from "./incident.ts";
export * from "./l1-rules.ts";
export * from "./orders.ts";
