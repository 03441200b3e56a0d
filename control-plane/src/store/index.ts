export { kyselyStore } from "./kysely-store.ts";
export type * from "./planner/port.ts";
export type * from "./port.ts";
export { openPostgresStore, type PostgresOptions } from "./postgres/index.ts";
export { openSqliteStore } from "./sqlite/index.ts";
