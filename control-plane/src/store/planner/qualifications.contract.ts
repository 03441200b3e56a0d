import { expect, it } from "vitest";
import { AT as at, defineStoreContract, LATER as later } from "../contract-kit.ts";

export const qualificationContract = defineStoreContract(
  "planner: model qualification reports",
  (store) => {
    it("keeps each server's and model's reports and answers the newest", async () => {
      const p = store().planner;
      const ollama = "http://127.0.0.1:11434/v1";
      const vllm = "https://vllm.example.net/v1";
      expect(await p.latestQualification(ollama, "qwen2.5:7b")).toBeUndefined();
      const report = { baseUrl: ollama, model: "qwen2.5:7b", recordedBy: "cli" };
      await p.recordQualification({ ...report, recordedAt: at, passed: true, reportJson: "{}" });
      await p.recordQualification({
        ...report,
        recordedAt: later,
        passed: false,
        reportJson: '{"unsafe":1}',
      });
      expect(await p.latestQualification(ollama, "qwen2.5:7b")).toEqual({
        ...report,
        recordedAt: later,
        passed: false,
        reportJson: '{"unsafe":1}',
      });
      expect(await p.latestQualification(ollama, "llama3.2")).toBeUndefined();
      // The same model name on another server is another model until it is qualified there.
      expect(await p.latestQualification(vllm, "qwen2.5:7b")).toBeUndefined();
    });
  },
);
