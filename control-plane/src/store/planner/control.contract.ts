import { expect, it } from "vitest";
import { AT as at, defineStoreContract, LATER as later } from "../contract-kit.ts";

export const plannerControlContract = defineStoreContract(
  "planner: site policies and kill switch",
  (store) => {
    it("keeps site policies and the kill switch", async () => {
      const p = store().planner;
      expect(await p.getSitePolicy("clinic-a")).toBeUndefined();
      await p.putSitePolicy("clinic-a", '{"audit_only":true}', at, "t");
      await p.putSitePolicy("clinic-a", '{"audit_only":false}', later, "t");
      expect(await p.getSitePolicy("clinic-a")).toEqual({
        policyJson: '{"audit_only":false}',
        updatedAt: later,
      });
      expect(await p.getSitePolicy("clinic-b")).toBeUndefined();
      expect(await p.getKillSwitch()).toBeUndefined();
      await p.setKillSwitch(true, "incident review", at, "t");
      expect(await p.getKillSwitch()).toMatchObject({ engaged: true, reason: "incident review" });
      await p.setKillSwitch(false, "", later, "t");
      expect((await p.getKillSwitch())?.engaged).toBe(false);
    });
  },
);
