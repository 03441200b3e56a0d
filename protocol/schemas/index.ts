export * from "./api.ts";
export * from "./checkpoint.ts";
export * from "./common.ts";
export * from "./enrollment.ts";
export * from "./evidence.ts";
export * from "./export.ts";
export * from "./incident.ts";
export * from "./orders.ts";
