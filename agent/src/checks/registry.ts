import type { DriftCheckId } from "#catalog";
import { backups } from "./backups/check.ts";
import type { DriftCheck } from "./contract.ts";
import { encryption } from "./encryption/check.ts";
import { firewall } from "./firewall/check.ts";
import { logging } from "./logging/check.ts";
import { patching } from "./patching/check.ts";
import { services } from "./services/check.ts";

/**
 * The six drift checks, one folder each, sorted by id. registry.test.ts holds this equal to the
 * folders under checks/ and to the catalog's DRIFT_CHECK_IDS.
 */
export const CHECKS: { readonly [Id in DriftCheckId]: DriftCheck<Id> } = {
  backups,
  encryption,
  firewall,
  logging,
  patching,
  services,
};
