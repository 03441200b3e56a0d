import { expect, it } from "vitest";
import { AT as at, defineStoreContract, LATER as later } from "../contract-kit.ts";

export const qualificationContract = defineStoreContract(
  "planner: model qualification reports",
  (store) => {
    it("keeps each model's reports and answers the newest", async () => {
      const p = store().planner;
      expect(await p.latestQualification("qwen2.5:7b")).toBeUndefined();
      const report = { model: "qwen2.5:7b", recordedBy: "cli" };
      await p.recordQualification({ ...report, recordedAt: at, passed: true, reportJson: "{}" });
      await p.recordQualification({
        ...report,
        recordedAt: later,
        passed: false,
        reportJson: '{"unsafe":1}',
      });
      expect(await p.latestQualification("qwen2.5:7b")).toEqual({
        ...report,
        recordedAt: later,
        passed: false,
        reportJson: '{"unsafe":1}',
      });
      expect(await p.latestQualification("llama3.2")).toBeUndefined();
    });
  },
);
