import type { ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { runProgram } from "../program.ts";
import { type Recorded, recordResources, settled, unwrap } from "../testing/mocks.ts";
import { POLICIES } from "./policies/index.ts";
import type { StackResource } from "./policies/types.ts";

/**
 * Runs the whole policy pack on a stack built under Pulumi's mocks: inputs as props, property
 * dependencies as the engine reports them. (One program per test file: a second setMocks
 * would cut off the first program's pending registrations.)
 */
function asStack(recorded: readonly Recorded[]): StackResource[] {
  const byUrn = new Map<string, StackResource>();
  const resources = recorded.map((r) => {
    const resource: StackResource = {
      type: r.type,
      name: r.name,
      urn: r.urn,
      props: Object.fromEntries(Object.entries(r.inputs).map(([k, v]) => [k, unwrap(v)])),
      propertyDependencies: {},
    };
    byUrn.set(r.urn, resource);
    return resource;
  });
  return resources.map((resource, i) => ({
    ...resource,
    propertyDependencies: Object.fromEntries(
      Object.entries(recorded[i]?.propertyDependencies ?? {}).map(([k, urns]) => [
        k,
        urns.flatMap((u) => byUrn.get(u) ?? []),
      ]),
    ),
  }));
}

export function runPack(resources: readonly StackResource[]): string[] {
  const found: string[] = [];
  const report = (m: string) => {
    found.push(m);
  };
  for (const policy of POLICIES) {
    if (policy.kind === "stack") {
      policy.validateStack({ resources } as unknown as StackValidationArgs, report);
    } else {
      for (const r of resources) {
        const validate = policy.validateResource;
        if (typeof validate === "function")
          validate(r as unknown as ResourceValidationArgs, report);
      }
    }
  }
  return found;
}

export async function build(stack: string, config: Record<string, string>) {
  const recorded = await recordResources(stack);
  await settled(await runProgram(config, stack));
  return asStack(recorded);
}
