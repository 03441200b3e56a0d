import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { analyzerpb, analyzerrpc, emptypb, grpc, structpb, unary } from "./grpc.ts";
import { launchPlugin, type Plugin } from "./plugin.ts";

/**
 * The engine's side of a Node.js policy pack (`--policy-pack DIR`): it starts
 * `@pulumi/pulumi/cmd/run-policy-pack` with the pack folder as working directory and the
 * arguments `<engine-address> . -<option>=<value>…` (the runtime options of
 * PulumiPolicy.yaml), reads the analyzer's port and then asks it over `pulumirpc.Analyzer`.
 */
export interface AnalyzerResource {
  readonly type: string;
  readonly name: string;
  readonly properties: Record<string, unknown>;
  /** Input name → names of the resources it came from (in the same request). */
  readonly propertyDependencies?: Record<string, readonly string[]>;
}

export interface Violation {
  readonly policy: string;
  readonly message: string;
  /** 0 advisory, 1 mandatory, 2 disabled, 3 remediate (analyzer.proto). */
  readonly enforcement: number;
  readonly urn: string;
}

export interface PolicyPackProcess {
  readonly plugin: Plugin;
  info(): Promise<{ name: string; policies: string[] }>;
  analyze(resource: AnalyzerResource): Promise<Violation[]>;
  analyzeStack(resources: readonly AnalyzerResource[]): Promise<Violation[]>;
  stop(): Promise<void>;
}

const urnOf = (r: { type: string; name: string }) =>
  `urn:pulumi:riverside::msp-compliance::${r.type}::${r.name}`;

/** The arguments the engine passes: engine address, ".", then each runtime option. */
export function policyPackArgs(packDir: string, engineAddress: string): string[] {
  const yaml = parse(readFileSync(join(packDir, "PulumiPolicy.yaml"), "utf8")) as {
    runtime?: { options?: Record<string, unknown> };
  };
  const options = Object.entries(yaml.runtime?.options ?? {}).map(([k, v]) => `-${k}=${String(v)}`);
  return [engineAddress, ".", ...options];
}

export async function startPolicyPack(
  packDir: string,
  engineAddress: string,
): Promise<PolicyPackProcess> {
  const plugin = await launchPlugin("cmd/run-policy-pack", policyPackArgs(packDir, engineAddress), {
    cwd: packDir,
  });
  const client = new analyzerrpc.AnalyzerClient(plugin.address, grpc.credentials.createInsecure());
  const toMessage = (r: AnalyzerResource, Cls: new () => unknown) => {
    // biome-ignore lint/suspicious/noExplicitAny: generated protobuf setters
    const m = new Cls() as any;
    m.setType(r.type);
    m.setName(r.name);
    m.setUrn(urnOf(r));
    m.setProperties(structpb.Struct.fromJavaScript(r.properties));
    m.setOptions(new analyzerpb.AnalyzerResourceOptions());
    const deps = m.getPropertydependenciesMap?.();
    for (const [k, names] of Object.entries(r.propertyDependencies ?? {})) {
      const d = new analyzerpb.AnalyzerPropertyDependencies();
      d.setUrnsList(names.map((n) => urnOf({ type: "aws:s3/bucket:Bucket", name: n })));
      deps?.set(k, d);
    }
    return m;
  };
  const violations = (resp: {
    getDiagnosticsList(): {
      getPolicyname(): string;
      getMessage(): string;
      getEnforcementlevel(): number;
      getUrn(): string;
    }[];
  }) =>
    resp.getDiagnosticsList().map((d) => ({
      policy: d.getPolicyname(),
      message: d.getMessage(),
      enforcement: d.getEnforcementlevel(),
      urn: d.getUrn(),
    }));
  return {
    plugin,
    async info() {
      const r = await unary<{ getName(): string; getPoliciesList(): { getName(): string }[] }>(
        client,
        "getAnalyzerInfo",
        new emptypb.Empty(),
      );
      return { name: r.getName(), policies: r.getPoliciesList().map((p) => p.getName()) };
    },
    async analyze(resource) {
      return violations(
        await unary(client, "analyze", toMessage(resource, analyzerpb.AnalyzeRequest)),
      );
    },
    async analyzeStack(resources) {
      const req = new analyzerpb.AnalyzeStackRequest();
      req.setResourcesList(resources.map((r) => toMessage(r, analyzerpb.AnalyzerResource)));
      return violations(await unary(client, "analyzeStack", req));
    },
    async stop() {
      client.close();
      await plugin.stop();
    },
  };
}
