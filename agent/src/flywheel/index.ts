/** agent/src/flywheel: signed L1 rule sets from the control plane, as the healer's L1RuleSource. */
export {
  type FlywheelBinding,
  type FlywheelRules,
  flywheelRules,
  RULE_SET_FILE,
} from "./rule-set.ts";
