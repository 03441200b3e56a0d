import type { Context } from "hono";
import type { z } from "zod";
import { APPLIANCE_API } from "#protocol";
import type { AppEnv } from "../../env.ts";
import { APPLIANCE, defineRoute, type LimitName, PUBLIC, type Route } from "../registry.ts";

type Contract = typeof APPLIANCE_API;

/**
 * An appliance route declared from the protocol's contract table: path, request and response
 * schemas come from APPLIANCE_API, and so does its rule (the mTLS client certificate unless the
 * table says otherwise), so a route added there is certificate-bound by default.
 */
export function applianceRoute<
  K extends keyof Contract,
  B extends z.ZodType = Contract[K]["request"] & z.ZodType,
>(
  name: K,
  spec: {
    readonly summary: string;
    readonly bodyLabel: string;
    /** Only to parse less than the contract (the evidence envelope leaves bundles to verifyChain). */
    readonly body?: B;
    readonly limit?: LimitName;
    readonly handler: (c: Context<AppEnv>, body: z.output<B>) => Response | Promise<Response>;
  },
): Route {
  const contract = APPLIANCE_API[name];
  const body = (spec.body ?? contract.request) as B;
  return defineRoute<AppEnv, undefined, undefined, B>({
    method: "post",
    path: contract.path,
    operationId: name,
    summary: spec.summary,
    auth: contract.clientCertificate ? APPLIANCE : PUBLIC,
    body,
    bodyLabel: spec.bodyLabel,
    ...(spec.limit ? { limit: spec.limit } : {}),
    response: { schema: contract.response },
    handler: (c, input) => spec.handler(c, input.body as z.output<B>),
  });
}
