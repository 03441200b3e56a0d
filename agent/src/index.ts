/** agent/: the appliance agent's building blocks; main.ts wires the real ones together. */
export { runAgent } from "./agent.ts";
export { writeFileAtomic } from "./atomic-file.ts";
export { AgentConfig, ENV_OVERRIDES, loadConfig, parseConfig } from "./config.ts";
export type { AgentDeps } from "./deps.ts";
export { type Enrollment, enroll, readEnrollment, verifyEnrollmentResponse } from "./enrollment.ts";
export { AgentError, type AgentErrorCode, isAgentError } from "./errors.ts";
export { executeOrders, flushReports, recoverInterruptedOrder } from "./execute.ts";
export { type FlywheelRules, flywheelRules } from "./flywheel/index.ts";
export * from "./host/index.ts";
export { type Identity, loadOrCreateIdentity } from "./identity.ts";
export { type Journal, openJournal, type StoredBundle } from "./journal.ts";
export { jsonLogger, type Logger, memoryLogger } from "./log.ts";
export { type Notifier, systemdNotifier } from "./notify.ts";
export { type AcceptedOrder, type PollOutcome, pollOnce } from "./orders.ts";
export * from "./ports.ts";
export { pushEvidence } from "./push.ts";
export { simulatedChecks, simulatedExecutor } from "./simulated.ts";
export { type AgentStatus, writeStatus } from "./status.ts";
export {
  type HttpsTransport,
  httpsTransport,
  type Transport,
  type TransportAnswer,
} from "./transport.ts";
export { AGENT_VERSION } from "./version.ts";
