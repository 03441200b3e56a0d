import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { AT, defineStoreContract } from "./contract-kit.ts";

export const incidentQueueContract = defineStoreContract("incident queue", (store) => {
  it("keeps incidents per tenant; an incident id is idempotent", async () => {
    const s = store();
    const id = randomUUID();
    expect(await s.recordIncident("clinic-a", "a-01", id, "{}", AT)).toBe("created");
    expect(await s.recordIncident("clinic-a", "a-01", id, "{}", AT)).toBe("duplicate");
    expect(await s.recordIncident("clinic-a", "a-01", id, '{"other":1}', AT)).toBe("conflict");
    // Another tenant's appliance using the same id neither sees nor disturbs tenant A's.
    expect(await s.recordIncident("clinic-b", "b-01", id, "{}", AT)).toBe("created");
    expect(await s.listIncidents("clinic-a")).toEqual([
      { incidentId: id, applianceId: "a-01", status: "queued", bodyJson: "{}" },
    ]);
    expect((await s.listIncidents("clinic-b")).length).toBe(1);
  });
});
