import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

/**
 * A real control plane for the ApplianceEnrollment tests: `control-plane init` and
 * `serve --port 0` as child processes on loopback, SQLite in a temporary data directory. The
 * components see it only from outside (CLI, files, HTTPS), as in production.
 */
const root = resolve(import.meta.dirname, "..", "..");
const MAIN = join(root, "control-plane", "src", "main.ts");

export interface LiveControlPlane {
  readonly url: string;
  /** The server CA from the data directory: what the provider pins. */
  readonly caPem: string;
  readonly adminToken: string;
  readonly dir: string;
  /** A GET on the admin API (for assertions), trusting only the pinned CA. */
  get(path: string): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startControlPlane(): Promise<LiveControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), "msp-cp-pulumi-"));
  const data = join(dir, "data");
  const tokenFile = join(dir, "admin-token");
  const init = spawnSync(
    process.execPath,
    [MAIN, "init", "--data-dir", data, "--admin-token-file", tokenFile],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (init.status !== 0) throw new Error(`control-plane init failed: ${init.stderr}`);
  const child: ChildProcess = spawn(
    process.execPath,
    [MAIN, "serve", "--data-dir", data, "--port", "0", "--host", "127.0.0.1"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error("serve did not listen in 20 s")), 20_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const m = /^listening on (https:\/\/\S+)$/.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}`)));
  });
  const caPem = readFileSync(join(data, "tls", "ca.pem"), "utf8");
  const adminToken = readFileSync(tokenFile, "utf8").trim();
  return {
    url,
    caPem,
    adminToken,
    dir,
    get: (path) =>
      new Promise((done, reject) => {
        const req = request(`${url}${path}`, {
          ca: caPem,
          agent: false,
          headers: { authorization: `Bearer ${adminToken}` },
        });
        req.on("response", (res) => {
          let text = "";
          res.on("data", (c) => {
            text += c;
          });
          res.on("end", () => done({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on("error", reject);
        req.end();
      }),
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `openssl req -new` with a new ECDSA P-256 key written to `keyFile`; returns stdout. */
function p256Request(keyFile: string, extra: readonly string[]): string {
  return execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      ...extra,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
}

/** An ECDSA P-256 tenant CA made by OpenSSL (the shape TenantPki makes with the tls provider). */
export function opensslTenantCa(dir: string, name: string): { certPem: string; keyPem: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  p256Request(key, [
    "-x509",
    "-out",
    cert,
    "-days",
    "30",
    "-subj",
    `/CN=${name} tenant CA`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}

/**
 * Enrolls as an appliance would at first boot (Ed25519 evidence key, OpenSSL-made P-256 CSR)
 * with `token` and `mac`; resolves with the HTTP status and the answer's `status` field.
 */
export async function enrollAs(
  cp: LiveControlPlane,
  token: string,
  mac: string,
): Promise<{ http: number; status: unknown }> {
  const p = await import("#protocol");
  const key = join(cp.dir, `csr-${Date.now()}-${Math.random()}.key`);
  const csr = p256Request(key, ["-subj", "/CN=appliance"]);
  const evidence = p.generateEd25519KeyPair();
  const signed = p.signDocument<import("#protocol").EnrollmentRequest>(
    p.EnrollmentRequest,
    {
      v: p.ENROLLMENT_REQUEST_VERSION,
      type: "enrollment_request",
      mac_addresses: [mac],
      hostname: "clinic-box",
      agent_version: "0.1.0-test",
      evidence_public_key: p.publicKeyToBase64(evidence.publicKey),
      evidence_key_fingerprint: p.keyId(evidence.publicKey),
      tls_csr_pem: csr,
      enrollment_token: token,
      nonce: p.randomNonce(),
      requested_at: new Date().toISOString(),
    },
    p.createSigner(evidence.privateKey),
  );
  const body = JSON.stringify(signed);
  return new Promise((done, reject) => {
    const req = request(`${cp.url}/v1/appliance/enroll`, {
      method: "POST",
      ca: cp.caPem,
      agent: false,
      headers: { "content-type": "application/json" },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c) => {
        text += c;
      });
      res.on("end", () =>
        done({
          http: res.statusCode ?? 0,
          status: (JSON.parse(text) as { status?: unknown }).status,
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}
