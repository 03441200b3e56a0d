import { describe, expect, it } from "vitest";
import { APPLIANCE_API } from "./api.ts";
import * as protocol from "./index.ts";

describe("APPLIANCE_API", () => {
  const routes = Object.values(APPLIANCE_API);

  it("gives every route its own versioned path", () => {
    const paths = routes.map((r) => r.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const path of paths) expect(path).toMatch(/^\/v1\/appliance\/[a-z-]+$/);
  });

  it("requires a client certificate everywhere except enrollment", () => {
    expect(routes.filter((r) => !r.clientCertificate).map((r) => r.path)).toEqual([
      "/v1/appliance/enroll",
    ]);
  });

  it("is part of the public surface both sides import (#protocol)", () => {
    expect(protocol.APPLIANCE_API).toBe(APPLIANCE_API);
    expect(protocol.MAX_APPLIANCE_BODY_BYTES).toBeGreaterThan(0);
  });
});
