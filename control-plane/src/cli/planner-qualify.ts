import type { QualificationReport } from "#protocol";
import { createAuditLog } from "../audit.ts";
import { ControlPlaneError } from "../errors.ts";
import { llmApiKey, llmConfig, plannerCatalog } from "../planner/from-config.ts";
import { createLlmPlanner } from "../planner/llm.ts";
import { qualifyModel, recordQualification, summarize } from "../planner/qualify.ts";
import { CONFIG_OPTIONS, type Command } from "./command.ts";
import { commandConfig, openStore, orderSigner } from "./config.ts";

/**
 * `planner qualify`: the catalog's labelled incidents against the configured model. Signs the
 * report with the control plane's order-signing key (so it needs an initialised data directory),
 * prints it as JSON on stdout and a summary on stderr, records it in the store (the pipeline
 * reads the newest one per model server and model) and in the audit log; fails (exit 1) when
 * the model does not meet the configured thresholds or made an unsafe choice.
 */
export const plannerQualifyCommand: Command = {
  name: "planner qualify",
  usage: "control-plane planner qualify (--data-dir DIR | --config FILE) [--database-url URL]",
  options: { ...CONFIG_OPTIONS },
  async run(flags) {
    const config = commandConfig("planner qualify", flags);
    const llm = config.planner.llm;
    if (!llm) {
      throw new ControlPlaneError(
        "invalid_config",
        "planner.llm: no model is configured, so there is nothing to qualify",
      );
    }
    // Read before any model call: without the key no report could be recorded.
    const signer = orderSigner(config);
    const catalog = await plannerCatalog(config.catalog_dir);
    const model = createLlmPlanner({
      ...llmConfig(llm, llmApiKey(llm, process.env)),
      // Every case is asked: an open circuit would turn the rest into escalations.
      circuitBreaker: { failures: Number.MAX_SAFE_INTEGER, cooldownMs: 0 },
    });
    const measured = await qualifyModel(model, catalog, llm.qualification);
    const store = openStore(config);
    let report: QualificationReport;
    try {
      await store.migrate();
      report = await recordQualification(store.planner, signer, measured, "cli");
      const { results: _results, sig: _sig, ...summary } = report;
      await createAuditLog(store, () => new Date()).record(
        "cli",
        "planner.qualified",
        `model/${report.model}`,
        summary,
      );
    } finally {
      await store.close();
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.stderr.write(`${summarize(report)}\n`);
    if (!report.passed) {
      throw new Error(`${report.model} did not qualify: ${report.reasons.join("; ")}`);
    }
  },
};
