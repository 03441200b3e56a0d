/** The Host port's adapters: the real Linux machine and the lab appliance. */

export * from "./lab/index.ts";
export { execArgv, linuxHost } from "./linux.ts";
