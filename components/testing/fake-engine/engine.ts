import { emptypb, enginepb, enginerpc, grpc, listen } from "./grpc.ts";

/**
 * The engine's own service (`pulumirpc.Engine`), whose address every runner is handed first:
 * it receives the program's and the policies' log lines and keeps the stack's root resource.
 * Severities as in engine.proto: 0 debug, 1 info, 2 warning, 3 error.
 */
export interface EngineLog {
  readonly severity: number;
  readonly message: string;
  readonly urn: string;
}

export interface EngineService {
  readonly address: string;
  readonly logs: EngineLog[];
  close(): Promise<void>;
}

type Callback = (e: null, r: unknown) => void;
interface LogCall {
  request: { getSeverity(): number; getMessage(): string; getUrn(): string };
}

export async function startEngineService(): Promise<EngineService> {
  const logs: EngineLog[] = [];
  let root = "";
  const server = new grpc.Server();
  server.addService(enginerpc.EngineService, {
    log({ request: r }: LogCall, cb: Callback) {
      logs.push({ severity: r.getSeverity(), message: r.getMessage(), urn: r.getUrn() });
      cb(null, new emptypb.Empty());
    },
    getRootResource(_call: unknown, cb: Callback) {
      const resp = new enginepb.GetRootResourceResponse();
      resp.setUrn(root);
      cb(null, resp);
    },
    setRootResource(call: { request: { getUrn(): string } }, cb: Callback) {
      root = call.request.getUrn();
      cb(null, new enginepb.SetRootResourceResponse());
    },
    startDebugging(_call: unknown, cb: Callback) {
      cb(null, new emptypb.Empty());
    },
    requirePulumiVersion(_call: unknown, cb: Callback) {
      cb(null, new enginepb.RequirePulumiVersionResponse());
    },
  });
  const address = await listen(server);
  return {
    address,
    logs,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
