import { randomBytes, randomUUID } from "node:crypto";
import { request } from "node:https";
import {
  createSigner,
  ENROLLMENT_REQUEST_VERSION,
  EnrollmentRequest,
  generateEd25519KeyPair,
  keyId,
  publicKeyToBase64,
  randomNonce,
  type Signer,
  sha256Hex,
  signDocument,
} from "#protocol";
import { createApp } from "../app.ts";
import { NO_TWO_PERSON_RULE } from "../changes/settings.ts";
import type { AppDeps } from "../env.ts";
import { silentLogger } from "../logger.ts";
import { hashPassword } from "../operator/password.ts";
import { DEFAULT_SIGN_IN } from "../operator/settings.ts";
import { createCertificateAuthority, createClientCsr, createSecretBox } from "../pki/index.ts";
import type { NewOperator, Store } from "../store/index.ts";

/**
 * Test fixtures: an app on a real store with a fresh order-signing key, an admin token, tenant
 * CAs and simulated appliances that make their keys and CSRs the way the agent does.
 */
export interface Harness {
  readonly app: ReturnType<typeof createApp>;
  readonly store: Store;
  readonly signer: Signer;
  readonly adminToken: string;
  admin(path: string, body?: unknown, method?: string): Promise<Response>;
  /** A GET of an operations route (/metrics, /openapi.json) with the admin token. */
  ops(path: string): Promise<Response>;
}

export async function createHarness(
  store: Store,
  overrides: Partial<AppDeps> = {},
): Promise<Harness> {
  await store.migrate();
  const signer = createSigner(generateEd25519KeyPair().privateKey);
  const adminToken = randomBytes(32).toString("base64url");
  await store.addAdminToken(
    { tokenHash: sha256Hex(new TextEncoder().encode(adminToken)), label: "test" },
    new Date().toISOString(),
  );
  const app = createApp({
    store,
    signer,
    secretBox: createSecretBox(randomBytes(32)),
    logger: silentLogger,
    enrollmentRateLimit: { perMinute: 10_000, burst: 10_000 },
    // Tests sign in often from one address; the budget itself is tested on its own.
    signInRateLimit: { perMinute: 10_000, burst: 10_000 },
    // Every answer a test provokes must match the schema its route documents.
    checkResponses: true,
    // Tests sign admins in with a password alone; the second factor that production requires
    // of admins has its own tests, which pass the production settings (operator/mfa.test.ts).
    signIn: { ...DEFAULT_SIGN_IN, mfaRequiredFor: [] },
    // One test token lifts kill switches, promotes rules and sets policies throughout the tests
    // of those actions; the two-person rule that production turns on for them has its own tests
    // (changes/two-person.test.ts), which pass the production settings.
    twoPersonRule: NO_TWO_PERSON_RULE,
    ...overrides,
  });
  return {
    app,
    store,
    signer,
    adminToken,
    ops: (path) =>
      Promise.resolve(app.request(path, { headers: { authorization: `Bearer ${adminToken}` } })),
    admin: (path, body, method = body === undefined ? "GET" : "POST") =>
      Promise.resolve(
        app.request(`/v1/admin${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      ),
  };
}

let macCounter = 0;
export function nextMac(): string {
  macCounter++;
  const hex = macCounter.toString(16).padStart(6, "0");
  return `02:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

export interface SimulatedAppliance {
  readonly mac: string;
  readonly evidenceSigner: Signer;
  readonly tlsKeyPem: string;
  /** Signed by the evidence key, as the agent sends it. */
  readonly request: EnrollmentRequest;
  /** The request with `changes`, signed again by this appliance's evidence key. */
  resign(changes: Partial<Omit<EnrollmentRequest, "sig">>): EnrollmentRequest;
}

type UnsignedEnrollment = Omit<EnrollmentRequest, "sig">;

export async function simulatedAppliance(
  token?: string,
  mac = nextMac(),
): Promise<SimulatedAppliance> {
  const evidenceSigner = createSigner(generateEd25519KeyPair().privateKey);
  const csr = await createClientCsr("appliance");
  const unsigned: UnsignedEnrollment = {
    v: ENROLLMENT_REQUEST_VERSION,
    type: "enrollment_request",
    mac_addresses: [mac],
    hostname: "clinic-box",
    agent_version: "0.1.0-test",
    evidence_public_key: publicKeyToBase64(evidenceSigner.publicKey),
    evidence_key_fingerprint: keyId(evidenceSigner.publicKey),
    tls_csr_pem: csr.csrPem,
    ...(token ? { enrollment_token: token } : {}),
    nonce: randomNonce(),
    requested_at: new Date().toISOString(),
  };
  const sign = (document: UnsignedEnrollment) =>
    signDocument<EnrollmentRequest>(EnrollmentRequest, document, evidenceSigner);
  return {
    mac,
    evidenceSigner,
    tlsKeyPem: csr.keyPem,
    request: sign(unsigned),
    resign: (changes) => {
      const { enrollment_token: _token, ...rest } = unsigned;
      // An explicit `enrollment_token: undefined` drops the token.
      const base = "enrollment_token" in changes ? rest : unsigned;
      const merged = { ...base, ...changes, nonce: randomNonce() };
      if (merged.enrollment_token === undefined) delete merged.enrollment_token;
      return sign(merged);
    },
  };
}

export async function registerSite(
  h: Harness,
  tenantId: string,
  applianceId: string,
  mac: string,
  options: { approvalOnly?: boolean; ca?: { certPem: string; keyPem: string } } = {},
): Promise<{ token?: string; ca: { certPem: string; keyPem: string } }> {
  const ca = options.ca ?? (await createCertificateAuthority(`${tenantId} CA`));
  const res = await h.admin("/sites", {
    tenant_id: tenantId,
    appliance_id: applianceId,
    ca_cert_pem: ca.certPem,
    ca_key_pem: ca.keyPem,
    mac_addresses: [mac],
    settings: { poll_interval_s: 60, poll_jitter: 0.1, evidence_batch_max: 100 },
    ...(options.approvalOnly ? { approval_only: true } : {}),
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { enrollment_token?: string };
  return body.enrollment_token ? { token: body.enrollment_token, ca } : { ca };
}

export function pollBody(tenantId: string, applianceId: string, lastOrderSeq = 0) {
  return {
    v: 1,
    type: "poll_request",
    tenant_id: tenantId,
    appliance_id: applianceId,
    nonce: randomNonce(),
    last_order_seq: lastOrderSeq,
    evidence_head: { seq: 0, hash: "0".repeat(64) },
    agent_version: "0.1.0-test",
    sent_at: new Date().toISOString(),
  };
}

/**
 * An HTTPS JSON POST with optional client certificate, over a real TLS connection;
 * `localAddress` picks the client's source address (any of 127.0.0.0/8 on loopback).
 */
export function httpsPost(
  url: string,
  body: unknown,
  tls: {
    ca: string;
    cert?: string;
    key?: string;
    session?: Buffer;
    localAddress?: string;
    /** GET sends no body; headers given here replace the JSON defaults. */
    method?: "GET" | "POST";
    headers?: Record<string, string>;
  },
  raw?: string | Buffer,
): Promise<{
  status: number;
  json: unknown;
  session?: Buffer;
  reused: boolean;
  contentType: string;
  headers: import("node:http").IncomingHttpHeaders;
}> {
  return new Promise((resolve, reject) => {
    const payload = raw ?? JSON.stringify(body);
    const req = request(
      url,
      {
        method: tls.method ?? "POST",
        ca: tls.ca,
        ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
        agent: false,
        ...(tls.session ? { session: tls.session } : {}),
        ...(tls.localAddress ? { localAddress: tls.localAddress } : {}),
        headers:
          tls.method === "GET"
            ? (tls.headers ?? {})
            : {
                "content-type": "application/json",
                "content-length": Buffer.byteLength(payload),
                ...tls.headers,
              },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const socket = res.socket as import("node:tls").TLSSocket;
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({
            status: res.statusCode ?? 0,
            json,
            session: socket.getSession?.(),
            reused: socket.isSessionReused?.() ?? false,
            contentType: String(res.headers["content-type"] ?? ""),
            headers: res.headers,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(tls.method === "GET" ? undefined : payload);
  });
}

/**
 * An operator account that can sign in with `password` (no failed attempts): an admin of every
 * tenant unless `grant` says otherwise.
 */
export async function addOperator(
  store: Store,
  username: string,
  password: string,
  grant: Pick<NewOperator, "role" | "scope" | "expiresAt"> = {},
) {
  await store.createOperator(
    {
      operatorId: randomUUID(),
      username,
      passwordHash: await hashPassword(password),
      ...grant,
    },
    new Date().toISOString(),
  );
}

/** An HTTPS request over a real TLS connection to a server whose CA is `ca`. */
export function httpsRequest(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string; ca: string },
): Promise<{ status: number; headers: import("node:http").IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method,
        ca: init.ca,
        agent: false,
        headers: {
          ...init.headers,
          ...(init.body === undefined ? {} : { "content-length": Buffer.byteLength(init.body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** The dashboard's origin in in-process tests. */
export const DASHBOARD_ORIGIN = "http://localhost";

/** A same-origin form POST to the dashboard, as a browser sends it. */
export function dashboardPost(
  h: Pick<Harness, "app">,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return h.app.request(`${DASHBOARD_ORIGIN}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: DASHBOARD_ORIGIN,
      "sec-fetch-site": "same-origin",
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Signs an operator in; the session and CSRF cookies, and every Set-Cookie line. */
export async function dashboardSignIn(
  h: Pick<Harness, "app">,
  username: string,
  password: string,
): Promise<{
  status: number;
  location: string | null;
  cookie: string;
  csrf: string;
  setCookies: string[];
}> {
  const res = await dashboardPost(h, "/dashboard/login", { username, password });
  const setCookies = res.headers.getSetCookie();
  const cookie = setCookies.map((c) => c.split(";")[0]).join("; ");
  const csrf = /__Host-cp_dashboard_csrf=([^;]+)/.exec(cookie)?.[1] ?? "";
  return { status: res.status, location: res.headers.get("location"), cookie, csrf, setCookies };
}
