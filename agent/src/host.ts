import { hostname, networkInterfaces } from "node:os";
import type { Host } from "./ports.ts";

/** The real machine: MAC addresses of non-internal interfaces (sorted, unique) and host name. */
export const systemHost: Host = {
  macAddresses() {
    const macs = new Set<string>();
    for (const addresses of Object.values(networkInterfaces())) {
      for (const a of addresses ?? []) {
        const mac = a.mac.toLowerCase();
        if (
          !a.internal &&
          /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/.test(mac) &&
          mac !== "00:00:00:00:00:00"
        ) {
          macs.add(mac);
        }
      }
    }
    return [...macs].sort();
  },
  hostname: () =>
    hostname()
      .replace(/[^a-zA-Z0-9.-]/g, "-")
      .slice(0, 253) || "appliance",
};
