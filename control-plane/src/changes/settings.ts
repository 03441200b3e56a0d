import type { ChangeAction } from "../store/index.ts";

/** Which changes need a second operator's approval (serve config `two_person_rule`). */
export interface TwoPersonSettings {
  readonly actions: Readonly<Record<ChangeAction, boolean>>;
  /** How long a request waits for its approval; after that it never applies. */
  readonly expiryMs: number;
}

export const DEFAULT_TWO_PERSON_RULE: TwoPersonSettings = {
  actions: { promote_rule: true, enforce_healing: true, lift_kill_switch: true },
  expiryMs: 24 * 3_600_000,
};

/** Off for every action: each change applies at once (tests of the actions themselves). */
export const NO_TWO_PERSON_RULE: TwoPersonSettings = {
  actions: { promote_rule: false, enforce_healing: false, lift_kill_switch: false },
  expiryMs: DEFAULT_TWO_PERSON_RULE.expiryMs,
};
