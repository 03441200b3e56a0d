import { describe, expect, it } from "vitest";
import { CENTRAL_CONFIG } from "../testing/configs.ts";
import { build, runPack } from "./testing.ts";

/** The central stack passes the platform's own policy pack. */
describe("the policy pack on the central stack", () => {
  it("passes the central stack (its three TLS keys)", async () => {
    const resources = await build("central", CENTRAL_CONFIG);
    expect(resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey")).toHaveLength(3);
    expect(runPack(resources)).toEqual([]);
  });
});
