import { computed } from "../mocks.ts";
import { emptypb, grpc, listen, resourcepb, resourcerpc, structpb } from "./grpc.ts";

/**
 * A small `pulumirpc.ResourceMonitor` for the language host (`cmd/run`): it records every
 * registration with its wire inputs and options and answers with the inputs plus plausible
 * provider outputs (`computed` of testing/mocks.ts); in a preview those outputs are unknown,
 * as the engine sends them. Invokes answer getCallerIdentity; stack references read the
 * central stack's outputs.
 */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface Registration {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly parent: string;
  readonly custom: boolean;
  readonly inputs: Record<string, unknown>;
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly ignoreChanges: readonly string[];
  readonly deleteBeforeReplace: boolean;
  /** URNs it waits for (dependsOn and the resources its inputs came from). */
  readonly dependencies: readonly string[];
  readonly additionalSecretOutputs: readonly string[];
}

export interface FakeMonitor {
  readonly address: string;
  readonly registrations: Registration[];
  readonly outputs: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

type Cb = (e: Error | null, r?: unknown) => void;
// biome-ignore lint/suspicious/noExplicitAny: generated protobuf request classes
type Req = { request: any };

/** Outputs a test wants for one resource instead of the plausible ones (undefined: keep those). */
export type OutputOverride = (
  type: string,
  name: string,
  inputs: Record<string, unknown>,
) => Record<string, unknown> | undefined;

export async function startFakeMonitor(opts: {
  stack: string;
  project: string;
  dryRun: boolean;
  override?: OutputOverride;
}): Promise<FakeMonitor> {
  const registrations: Registration[] = [];
  const outputs = new Map<string, Record<string, unknown>>();
  let counter = 0;
  const urnOf = (parent: string, type: string, name: string) => {
    const parentType = parent ? `${parent.split("::")[2]}$` : "";
    return `urn:pulumi:${opts.stack}::${opts.project}::${parentType}${type}::${name}`;
  };
  const state = (type: string, name: string, inputs: Record<string, unknown>) => {
    const extra = opts.override?.(type, name, inputs) ?? computed(type, name, inputs);
    if (!opts.dryRun) return { ...inputs, ...extra };
    return { ...inputs, ...Object.fromEntries(Object.keys(extra).map((k) => [k, UNKNOWN])) };
  };
  const server = new grpc.Server();
  server.addService(resourcerpc.ResourceMonitorService, {
    supportsFeature({ request }: Req, cb: Cb) {
      const resp = new resourcepb.SupportsFeatureResponse();
      resp.setHassupport(["secrets", "resourceReferences"].includes(request.getId()));
      cb(null, resp);
    },
    invoke({ request }: Req, cb: Cb) {
      const resp = new resourcepb.ResourceInvokeResponse();
      const result =
        request.getTok() === "aws:index/getCallerIdentity:getCallerIdentity"
          ? {
              accountId: "123456789012",
              arn: "arn:aws:iam::123456789012:user/ops",
              userId: "AIDA",
              id: "x",
            }
          : {};
      resp.setReturn(structpb.Struct.fromJavaScript(result));
      cb(null, resp);
    },
    readResource({ request }: Req, cb: Cb) {
      const urn = urnOf(request.getParent(), request.getType(), request.getName());
      const props = state(
        request.getType(),
        request.getName(),
        request.getProperties().toJavaScript(),
      );
      registrations.push({
        type: request.getType(),
        name: request.getName(),
        urn,
        parent: request.getParent(),
        custom: true,
        inputs: request.getProperties().toJavaScript(),
        protect: false,
        retainOnDelete: false,
        ignoreChanges: [],
        deleteBeforeReplace: false,
        dependencies: [],
        additionalSecretOutputs: [],
      });
      const resp = new resourcepb.ReadResourceResponse();
      resp.setUrn(urn);
      resp.setProperties(structpb.Struct.fromJavaScript(props));
      cb(null, resp);
    },
    registerResource({ request }: Req, cb: Cb) {
      const type = request.getType();
      const name = request.getName();
      const urn = urnOf(request.getParent(), type, name);
      const inputs = request.getObject()?.toJavaScript() ?? {};
      registrations.push({
        type,
        name,
        urn,
        parent: request.getParent(),
        custom: request.getCustom(),
        inputs,
        protect: request.getProtect() === true,
        retainOnDelete: request.getRetainondelete() === true,
        ignoreChanges: request.getIgnorechangesList(),
        deleteBeforeReplace: request.getDeletebeforereplace() === true,
        dependencies: request.getDependenciesList(),
        additionalSecretOutputs: request.getAdditionalsecretoutputsList(),
      });
      const resp = new resourcepb.RegisterResourceResponse();
      resp.setUrn(urn);
      if (request.getCustom()) resp.setId(opts.dryRun ? "" : String(1000 + ++counter));
      resp.setObject(
        structpb.Struct.fromJavaScript(request.getCustom() ? state(type, name, inputs) : {}),
      );
      cb(null, resp);
    },
    registerResourceOutputs({ request }: Req, cb: Cb) {
      outputs.set(request.getUrn(), request.getOutputs()?.toJavaScript() ?? {});
      cb(null, new emptypb.Empty());
    },
    signalAndWaitForShutdown(_call: Req, cb: Cb) {
      cb(null, new emptypb.Empty());
    },
  });
  const address = await listen(server);
  return {
    address,
    registrations,
    outputs,
    close: () => new Promise((r) => server.tryShutdown(() => r())),
  };
}
