import { alertContract } from "./alerts.contract.ts";
import { applianceContract } from "./appliances.contract.ts";
import { auditContract } from "./audit.contract.ts";
import { changeRequestContract } from "./change-requests.contract.ts";
import type { StoreContract } from "./contract-kit.ts";
import { cosignatureContract } from "./cosignatures.contract.ts";
import { evidenceContract } from "./evidence.contract.ts";
import { expiryContract } from "./expiry.contract.ts";
import { incidentQueueContract } from "./incident-queue.contract.ts";
import { leaseContract } from "./leases.contract.ts";
import { operatorContract } from "./operators.contract.ts";
import { orderContract } from "./orders.contract.ts";
import { packetContract, packetJobContract } from "./packets.contract.ts";
import { attemptContract } from "./planner/attempts.contract.ts";
import { plannerControlContract } from "./planner/control.contract.ts";
import { decisionContract } from "./planner/decisions.contract.ts";
import { flywheelContract } from "./planner/flywheel.contract.ts";
import { incidentStateContract } from "./planner/incidents.contract.ts";
import { qualificationContract } from "./planner/qualifications.contract.ts";
import { tenantContract } from "./tenants.contract.ts";
import { vaultContract } from "./vault.contract.ts";

/** Every domain's contract; both adapters' tests run all of them. */
export const STORE_CONTRACTS: readonly StoreContract[] = [
  tenantContract,
  applianceContract,
  orderContract,
  evidenceContract,
  alertContract,
  incidentQueueContract,
  operatorContract,
  auditContract,
  vaultContract,
  leaseContract,
  expiryContract,
  packetContract,
  packetJobContract,
  cosignatureContract,
  plannerControlContract,
  incidentStateContract,
  attemptContract,
  decisionContract,
  flywheelContract,
  qualificationContract,
  changeRequestContract,
];
