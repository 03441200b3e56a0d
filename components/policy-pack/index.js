// The policy pack's entry, in JavaScript on purpose: Pulumi's policy-pack runner
// (`@pulumi/pulumi/cmd/run-policy-pack`) always registers ts-node and ignores
// `typescript: false`, so a TypeScript entry importing `./x.ts` fails to compile (TS5097).
// A JavaScript module is left to Node 24, which loads it as ESM (package.json "type") and
// strips the types of the policies it imports. Constructing a PolicyPack starts the policy
// server, so tests never import this file; they call each policy from policies/ directly.
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies/index.ts";

new PolicyPack("msp-hipaa", { policies: [...POLICIES] });
