import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The gRPC runtime and Pulumi's generated protocol modules, taken from the copy that
 * `@pulumi/pulumi` itself loads, so the fake engine speaks exactly the wire format the runners
 * in `@pulumi/pulumi/cmd/*` expect. Typed loosely: tests read the messages through getters.
 */
const fromPulumi = createRequire(createRequire(import.meta.url).resolve("@pulumi/pulumi"));

// biome-ignore lint/suspicious/noExplicitAny: generated protobuf classes without usable types
type Any = any;

export const grpc = fromPulumi("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
export const structpb = fromPulumi("google-protobuf/google/protobuf/struct_pb") as Any;
export const emptypb = fromPulumi("google-protobuf/google/protobuf/empty_pb") as Any;
export const enginerpc = fromPulumi("@pulumi/pulumi/proto/engine_grpc_pb") as Any;
export const enginepb = fromPulumi("@pulumi/pulumi/proto/engine_pb") as Any;
export const resourcerpc = fromPulumi("@pulumi/pulumi/proto/resource_grpc_pb") as Any;
export const resourcepb = fromPulumi("@pulumi/pulumi/proto/resource_pb") as Any;
export const analyzerrpc = fromPulumi("@pulumi/pulumi/proto/analyzer_grpc_pb") as Any;
export const analyzerpb = fromPulumi("@pulumi/pulumi/proto/analyzer_pb") as Any;
export const providerrpc = fromPulumi("@pulumi/pulumi/proto/provider_grpc_pb") as Any;
export const providerpb = fromPulumi("@pulumi/pulumi/proto/provider_pb") as Any;
export const pluginpb = fromPulumi("@pulumi/pulumi/proto/plugin_pb") as Any;

/** Where a runner module lives, e.g. `cmd/run-policy-pack`. */
export function runnerPath(cmd: string): string {
  return fromPulumi.resolve(`@pulumi/pulumi/${cmd}`);
}

/** A file of the `@pulumi/pulumi` package, e.g. the `pulumi-resource-pulumi-nodejs` plugin. */
export function pulumiFile(name: string): string {
  return join(dirname(fromPulumi.resolve("@pulumi/pulumi/package.json")), name);
}

/** Promisifies a unary client call. */
export function unary<T>(client: Any, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](request, (e: Error | null, r: T) => (e ? reject(e) : resolve(r))),
  );
}

/** Binds a server on an ephemeral loopback port. */
export function listen(server: import("@grpc/grpc-js").Server): Promise<string> {
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) =>
      e ? reject(e) : resolve(`127.0.0.1:${port}`),
    ),
  );
}
