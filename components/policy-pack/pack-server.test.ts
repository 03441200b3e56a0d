import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The policy pack as the Pulumi engine runs it: `index.ts` in its own Node process (plain
 * Node 24, cwd the pack folder, as `--policy-pack` does), serving the analyzer gRPC service
 * on the port it prints; this test is the engine's side of that protocol.
 */
const PACK = import.meta.dirname;
// The gRPC and protobuf modules the pack itself loads, resolved from @pulumi/policy.
const require = createRequire(createRequire(import.meta.url).resolve("@pulumi/policy"));
const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const rpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb") as {
  AnalyzerClient: new (address: string, credentials: unknown) => AnalyzerClient;
};
const pb = require("@pulumi/pulumi/proto/analyzer_pb") as {
  AnalyzeRequest: new () => AnalyzeRequest;
  AnalyzerResourceOptions: new () => unknown;
};
const structpb = require("google-protobuf/google/protobuf/struct_pb") as {
  Struct: { fromJavaScript(v: unknown): unknown };
};
const emptypb = require("google-protobuf/google/protobuf/empty_pb") as { Empty: new () => unknown };

interface AnalyzeRequest {
  setType(t: string): void;
  setProperties(p: unknown): void;
  setUrn(u: string): void;
  setName(n: string): void;
  setOptions(o: unknown): void;
}
interface Diagnostic {
  getPolicyname(): string;
  getMessage(): string;
  getEnforcementlevel(): number;
}
interface AnalyzerClient {
  getAnalyzerInfo(
    req: unknown,
    cb: (
      e: Error | null,
      r: { getName(): string; getPoliciesList(): { getName(): string }[] },
    ) => void,
  ): void;
  analyze(
    req: AnalyzeRequest,
    cb: (e: Error | null, r: { getDiagnosticsList(): Diagnostic[] }) => void,
  ): void;
  close(): void;
}

let child: ChildProcess;
let client: AnalyzerClient;

beforeAll(async () => {
  child = spawn(process.execPath, [join(PACK, "index.ts")], {
    cwd: PACK,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c) => {
    stderr += c;
  });
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port within 20 s: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (/^\d+$/.test(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once("exit", (code) => reject(new Error(`the pack exited ${code}: ${stderr}`)));
  });
  client = new rpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
});

function analyze(type: string, properties: Record<string, unknown>): Promise<Diagnostic[]> {
  const req = new pb.AnalyzeRequest();
  req.setType(type);
  req.setProperties(structpb.Struct.fromJavaScript(properties));
  req.setUrn(`urn:pulumi:riverside::msp-compliance::${type}::r`);
  req.setName("r");
  req.setOptions(new pb.AnalyzerResourceOptions());
  return new Promise((resolve, reject) =>
    client.analyze(req, (e, r) => (e ? reject(e) : resolve(r.getDiagnosticsList()))),
  );
}

describe("the policy pack over the analyzer protocol", () => {
  it("announces itself with every policy of the registry", async () => {
    const info = await new Promise<{
      getName(): string;
      getPoliciesList(): { getName(): string }[];
    }>((resolve, reject) =>
      client.getAnalyzerInfo(new emptypb.Empty(), (e, r) => (e ? reject(e) : resolve(r))),
    );
    expect(info.getName()).toBe("msp-hipaa");
    expect(info.getPoliciesList().map((p) => p.getName())).toEqual([
      "evidence-encryption",
      "evidence-object-lock-attached",
      "evidence-object-lock-compliance",
      "evidence-public-access-blocked",
      "evidence-tls-only",
      "evidence-versioning",
      "tls-key-strength",
      "writer-never-deletes",
    ]);
  });

  it("refuses the tls provider's P-224 default, mandatory, and passes P-256", async () => {
    const weak = await analyze("tls:index/privateKey:PrivateKey", { algorithm: "ECDSA" });
    // The engine shows the policy's description, then our message.
    expect(weak.map((d) => [d.getPolicyname(), d.getMessage().split("\n").at(-1)])).toEqual([
      ["tls-key-strength", 'ECDSA on P224 (the default); set ecdsaCurve: "P256" or use ED25519'],
    ]);
    expect(weak[0]?.getEnforcementlevel()).toBe(1); // MANDATORY
    expect(
      await analyze("tls:index/privateKey:PrivateKey", { algorithm: "ECDSA", ecdsaCurve: "P256" }),
    ).toEqual([]);
  });

  it("refuses a GOVERNANCE default retention", async () => {
    const found = await analyze(
      "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
      {
        rule: { defaultRetention: { mode: "GOVERNANCE", days: 2192 } },
      },
    );
    expect(found.map((d) => d.getPolicyname())).toEqual(["evidence-object-lock-compliance"]);
  });
});
