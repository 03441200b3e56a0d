import { emptypb, grpc, providerpb, providerrpc, structpb, unary } from "./grpc.ts";
import { launchPluginExecutable, type Plugin } from "./plugin.ts";

/**
 * The engine's side of a dynamic resource: it starts `pulumi-resource-pulumi-nodejs` (the plugin
 * executable `@pulumi/pulumi` ships, which runs `cmd/dynamic-provider`) in the program's
 * directory with the engine's address as argument, reads the port it prints and speaks
 * `pulumirpc.ResourceProvider` to it. Every call carries the serialized provider in the
 * properties' `__provider`, as the engine takes it from the program's registration.
 * `DiffChanges` as in provider.proto: 0 unknown, 1 none, 2 some.
 */
export type Props = Record<string, unknown>;

export interface ProviderPlugin {
  readonly plugin: Plugin;
  getPluginInfo(): Promise<{ version: string }>;
  configure(config: Props): Promise<{ acceptSecrets: boolean }>;
  check(urn: string, olds: Props, news: Props): Promise<{ inputs: Props; failures: string[] }>;
  diff(
    urn: string,
    id: string,
    olds: Props,
    news: Props,
    oldInputs: Props,
  ): Promise<{ changes: number; replaces: string[]; deleteBeforeReplace: boolean }>;
  create(urn: string, properties: Props): Promise<{ id: string; properties: Props }>;
  read(
    urn: string,
    id: string,
    properties: Props,
    inputs: Props,
  ): Promise<{ id: string; properties: Props }>;
  update(urn: string, id: string, olds: Props, news: Props, oldInputs: Props): Promise<Props>;
  delete(urn: string, id: string, properties: Props, oldInputs: Props): Promise<void>;
  stop(): Promise<void>;
}

const struct = (p: Props) => structpb.Struct.fromJavaScript(p);

/**
 * A request about one resource: its URN, name and type (taken from the URN), its id when it
 * has one, and the given property bags as Structs (`olds` → `setOlds`, …).
 */
function request(
  // biome-ignore lint/suspicious/noExplicitAny: generated protobuf message classes
  Cls: new () => any,
  urn: string,
  id: string | undefined,
  bags: Record<string, Props>,
) {
  const req = new Cls();
  req.setUrn(urn);
  req.setName(urn.split("::")[3] ?? "");
  req.setType(urn.split("::")[2]?.split("$").pop() ?? "");
  if (id !== undefined) req.setId(id);
  for (const [k, v] of Object.entries(bags))
    req[`set${k[0]?.toUpperCase()}${k.slice(1)}`](struct(v));
  return req;
}

export async function startDynamicProvider(options: {
  /** The program's directory: the plugin resolves `@pulumi/pulumi` from there. */
  cwd: string;
  engineAddress: string;
  env?: NodeJS.ProcessEnv;
}): Promise<ProviderPlugin> {
  const plugin = await launchPluginExecutable(
    "pulumi-resource-pulumi-nodejs",
    [options.engineAddress],
    { cwd: options.cwd, ...(options.env ? { env: options.env } : {}) },
  );
  const client = new providerrpc.ResourceProviderClient(
    plugin.address,
    grpc.credentials.createInsecure(),
  );
  // biome-ignore lint/suspicious/noExplicitAny: generated protobuf messages
  const call = <T = any>(method: string, req: unknown) => unary<T>(client, method, req);
  return {
    plugin,
    async getPluginInfo() {
      const r = await call("getPluginInfo", new emptypb.Empty());
      return { version: r.getVersion() };
    },
    async configure(config) {
      const req = new providerpb.ConfigureRequest();
      req.setArgs(struct(config));
      req.setAcceptsecrets(true);
      req.setAcceptresources(true);
      const r = await call("configure", req);
      return { acceptSecrets: r.getAcceptsecrets() };
    },
    async check(urn, olds, news) {
      const r = await call(
        "check",
        request(providerpb.CheckRequest, urn, undefined, { olds, news }),
      );
      return {
        inputs: r.getInputs().toJavaScript(),
        failures: r
          .getFailuresList()
          .map(
            (f: { getProperty(): string; getReason(): string }) =>
              `${f.getProperty()}: ${f.getReason()}`,
          ),
      };
    },
    async diff(urn, id, olds, news, oldInputs) {
      const r = await call(
        "diff",
        request(providerpb.DiffRequest, urn, id, { olds, news, oldInputs }),
      );
      return {
        changes: r.getChanges(),
        replaces: r.getReplacesList(),
        deleteBeforeReplace: r.getDeletebeforereplace(),
      };
    },
    async create(urn, properties) {
      const r = await call(
        "create",
        request(providerpb.CreateRequest, urn, undefined, { properties }),
      );
      return { id: r.getId(), properties: r.getProperties().toJavaScript() };
    },
    async read(urn, id, properties, inputs) {
      const r = await call(
        "read",
        request(providerpb.ReadRequest, urn, id, { properties, inputs }),
      );
      return { id: r.getId(), properties: r.getProperties()?.toJavaScript() ?? {} };
    },
    async update(urn, id, olds, news, oldInputs) {
      const r = await call(
        "update",
        request(providerpb.UpdateRequest, urn, id, { olds, news, oldInputs }),
      );
      return r.getProperties().toJavaScript();
    },
    async delete(urn, id, properties, oldInputs) {
      await call("delete", request(providerpb.DeleteRequest, urn, id, { properties, oldInputs }));
    },
    async stop() {
      client.close();
      await plugin.stop();
    },
  };
}
