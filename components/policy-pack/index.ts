import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies/index.ts";

/**
 * The policy pack's entry: `pulumi up --policy-pack components/policy-pack`. Constructing a
 * PolicyPack starts the policy server (PITFALLS), so tests never import this file; they call
 * each policy from policies/ directly.
 */
new PolicyPack("msp-hipaa", { policies: [...POLICIES] });
