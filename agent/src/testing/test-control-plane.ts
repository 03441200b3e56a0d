import { randomUUID } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { z } from "zod";
import {
  type AgentSettings,
  APPLIANCE_API,
  bundleHash,
  type ChainHead,
  EnrollmentRequest,
  EnrollmentResponse,
  type EvidenceBundle,
  EvidenceReceipt,
  EvidenceUpload,
  GENESIS_HEAD,
  Incident,
  Order,
  OrderResult,
  PollRequest,
  PollResponse,
  type Problem,
  publicKeyFromBase64,
  publicKeyToBase64,
  type Signer,
  signDocument,
  tryParseMessage,
  verificationKey,
  verifyChain,
  verifyDocument,
} from "#protocol";
import type { TestPki } from "./test-pki.ts";

const UploadEnvelope = EvidenceUpload.extend({ bundles: z.array(z.unknown()).min(1) });

/**
 * A minimal control plane for tests and the bench, on real HTTPS with mTLS on loopback: it
 * enrolls (optionally after some `pending` answers), answers polls with signed responses carrying
 * queued orders, verifies and stores evidence (idempotent for re-sent bundles, 409 evidence_gap
 * with expected_seq on a gap), signs receipts, and acknowledges order results. Hooks let a test
 * forge, tamper with or withhold what the real control plane would never send.
 */
export interface OrderTemplate {
  readonly runbook_id: string;
  readonly params?: Order["params"];
  readonly tier?: Order["tier"];
  readonly issued_at?: string;
  readonly expires_at?: string;
  readonly order_id?: string;
  readonly tenant_id?: string;
  readonly appliance_id?: string;
  readonly nonce?: string;
  /** Sign with another key (a forged order). */
  readonly signer?: Signer;
  /** Change the order after signing (tampering). */
  readonly mutate?: (order: Order) => unknown;
  /** Number to use instead of the next one (rollback or replay tests). */
  readonly seq?: number;
}

export interface TestControlPlaneOptions {
  readonly pki: TestPki;
  readonly signer: Signer;
  readonly tenantId?: string;
  readonly applianceId?: string;
  readonly pendingAnswers?: number;
  readonly settings?: AgentSettings;
  readonly enrollmentToken?: string;
}

export interface TestControlPlane {
  readonly url: string;
  readonly port: number;
  readonly tenantId: string;
  readonly applianceId: string;
  readonly bundles: EvidenceBundle[];
  readonly receipts: EvidenceReceipt[];
  readonly orderResults: OrderResult[];
  readonly incidents: Incident[];
  readonly enrollments: EnrollmentRequest[];
  readonly polls: PollRequest[];
  readonly requests: Map<string, number>;
  /** When false, every TCP connection is dropped at once (the control plane is down). */
  available: boolean;
  queueOrder(template: OrderTemplate): void;
  /** Replace the signed poll response by anything (whole-response attacks). */
  pollHook: ((response: PollResponse, request: PollRequest) => unknown) | null;
  /** Replace the signed receipt by anything (forged or partial receipts). */
  receiptHook: ((receipt: EvidenceReceipt) => unknown) | null;
  /** Forget stored bundles above `seq` (a control plane restored from an older backup). */
  truncateTo(seq: number): void;
  head(): ChainHead;
  close(): Promise<void>;
}

export async function startTestControlPlane(
  options: TestControlPlaneOptions,
): Promise<TestControlPlane> {
  const tenantId = options.tenantId ?? "clinic-a";
  const applianceId = options.applianceId ?? "clinic-a-01";
  const settings = options.settings ?? {
    poll_interval_s: 10,
    poll_jitter: 0.1,
    evidence_batch_max: 200,
  };
  let pending = options.pendingAnswers ?? 0;
  let evidenceKey: ReturnType<typeof verificationKey> | null = null;
  let clientCommonName: string | null = null;
  const orders: { template: OrderTemplate; seq: number; id: string }[] = [];
  let orderSeq = 0;
  const heads: string[] = [];
  const sockets = new Set<TLSSocket>();

  const problem = (status: number, code: string, extra: Partial<Problem> = {}): Problem => ({
    type: `https://errors.test/${code}`,
    title: code.replace(/_/g, " "),
    status,
    code,
    ...extra,
  });

  const cp: TestControlPlane = {
    url: "",
    port: 0,
    tenantId,
    applianceId,
    bundles: [],
    receipts: [],
    orderResults: [],
    incidents: [],
    enrollments: [],
    polls: [],
    requests: new Map(),
    available: true,
    pollHook: null,
    receiptHook: null,
    queueOrder(template) {
      const seq = template.seq ?? ++orderSeq;
      orders.push({ template, seq, id: template.order_id ?? randomUUID() });
    },
    truncateTo(seq) {
      cp.bundles.length = Math.min(cp.bundles.length, seq);
      heads.length = cp.bundles.length;
    },
    head: () =>
      cp.bundles.length === 0 ? GENESIS_HEAD : { seq: cp.bundles.length, hash: heads.at(-1) ?? "" },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const handle = async (
    path: string,
    body: unknown,
    socket: TLSSocket,
  ): Promise<[number, unknown]> => {
    if (path === APPLIANCE_API.enroll.path) {
      const parsed = tryParseMessage(EnrollmentRequest, body);
      if (!parsed.ok) return [400, problem(400, "invalid_message", { detail: parsed.problem })];
      const request = parsed.value;
      // As the real control plane: the request must be signed by the evidence key it names.
      const claimed = verificationKey(publicKeyFromBase64(request.evidence_public_key));
      if (!verifyDocument(request, claimed)) {
        return [400, problem(400, "invalid_request", { detail: "sig does not verify" })];
      }
      cp.enrollments.push(request);
      if (options.enrollmentToken && request.enrollment_token !== options.enrollmentToken) {
        return [403, problem(403, "enrollment_refused")];
      }
      if (pending > 0) {
        pending--;
        return [
          200,
          signDocument<Extract<EnrollmentResponse, { status: "pending" }>>(
            EnrollmentResponse,
            {
              v: 1,
              type: "enrollment_response",
              status: "pending",
              evidence_key_fingerprint: request.evidence_key_fingerprint,
              retry_after_s: 1,
            },
            options.signer,
          ),
        ];
      }
      evidenceKey = verificationKey(publicKeyFromBase64(request.evidence_public_key));
      clientCommonName = `${tenantId}.${applianceId}`;
      return [
        200,
        signDocument<Extract<EnrollmentResponse, { status: "enrolled" }>>(
          EnrollmentResponse,
          {
            v: 1,
            type: "enrollment_response",
            status: "enrolled",
            tenant_id: tenantId,
            appliance_id: applianceId,
            evidence_key_fingerprint: request.evidence_key_fingerprint,
            client_certificate_pem: await options.pki.issueClientCert(
              request.tls_csr_pem,
              clientCommonName,
            ),
            ca_certificate_pem: options.pki.caPem,
            order_signing_public_key: publicKeyToBase64(options.signer.publicKey),
            settings,
          },
          options.signer,
        ),
      ];
    }
    // Every other route: the client certificate this control plane issued (mTLS).
    const peer = socket.getPeerCertificate();
    if (
      !socket.authorized ||
      !peer?.subject ||
      peer.subject.CN !== clientCommonName ||
      !evidenceKey
    ) {
      return [401, problem(401, "client_certificate_required")];
    }
    if (path === APPLIANCE_API.poll.path) {
      const parsed = tryParseMessage(PollRequest, body);
      if (!parsed.ok) return [400, problem(400, "invalid_message", { detail: parsed.problem })];
      const request = parsed.value;
      cp.polls.push(request);
      const now = Date.now();
      const due = orders.filter((o) => o.seq > request.last_order_seq).slice(0, 32);
      const signed = due.map(({ template: t, seq, id }) => {
        const order = signDocument<Order>(
          Order,
          {
            v: 1,
            type: "order",
            order_id: id,
            tenant_id: t.tenant_id ?? tenantId,
            appliance_id: t.appliance_id ?? applianceId,
            seq,
            nonce: t.nonce ?? request.nonce,
            runbook_id: t.runbook_id,
            params: t.params ?? {},
            tier: t.tier ?? "L1",
            issued_at: t.issued_at ?? new Date(now - 1000).toISOString(),
            expires_at: t.expires_at ?? new Date(now + 3_600_000).toISOString(),
          },
          t.signer ?? options.signer,
        );
        return (t.mutate ? t.mutate(order) : order) as Order;
      });
      const response = signDocument<PollResponse>(
        PollResponse,
        {
          v: 1,
          type: "poll_response",
          tenant_id: tenantId,
          appliance_id: applianceId,
          nonce: request.nonce,
          order_seq: Math.max(request.last_order_seq, ...due.map((o) => o.seq), 0),
          orders: signed,
          issued_at: new Date(now).toISOString(),
        },
        options.signer,
      );
      return [200, cp.pollHook ? cp.pollHook(response, request) : response];
    }
    if (path === APPLIANCE_API.evidence.path) {
      // As the real control plane: the envelope is a 400, a bundle that fails its schema a 422.
      const envelope = tryParseMessage(UploadEnvelope, body);
      if (!envelope.ok) return [400, problem(400, "invalid_message", { detail: envelope.problem })];
      const parsed = tryParseMessage(EvidenceUpload, body);
      if (!parsed.ok) return [422, problem(422, "evidence_invalid", { detail: parsed.problem })];
      const upload = parsed.value.bundles;
      const first = upload[0]?.seq ?? 1;
      const head = cp.head();
      if (first > head.seq + 1) {
        return [409, problem(409, "evidence_gap", { expected_seq: head.seq + 1 })];
      }
      for (const bundle of upload) {
        if (bundle.seq <= head.seq && bundleHash(bundle) !== heads[bundle.seq - 1]) {
          return [409, problem(409, "evidence_fork")];
        }
      }
      const fresh = upload.filter((b) => b.seq > head.seq);
      const verdict = verifyChain(fresh, { key: evidenceKey, tenantId, applianceId, from: head });
      if (!verdict.ok) return [422, problem(422, "chain_break", { detail: verdict.break.reason })];
      for (const bundle of fresh) {
        cp.bundles.push(bundle);
        heads.push(bundleHash(bundle));
      }
      const last = upload.at(-1) as EvidenceBundle;
      const receipt = signDocument<EvidenceReceipt>(
        EvidenceReceipt,
        {
          v: 1,
          type: "evidence_receipt",
          receipt_id: randomUUID(),
          tenant_id: tenantId,
          appliance_id: applianceId,
          first_seq: first,
          last_seq: last.seq,
          last_hash: bundleHash(last),
          received_at: new Date().toISOString(),
        },
        options.signer,
      );
      cp.receipts.push(receipt);
      return [200, cp.receiptHook ? cp.receiptHook(receipt) : receipt];
    }
    if (path === APPLIANCE_API.orderResult.path) {
      const parsed = tryParseMessage(OrderResult, body);
      if (!parsed.ok) return [400, problem(400, "invalid_message", { detail: parsed.problem })];
      cp.orderResults.push(parsed.value);
      return [200, { v: 1, type: "ack", ref: parsed.value.order_id }];
    }
    if (path === APPLIANCE_API.incident.path) {
      const parsed = tryParseMessage(Incident, body);
      if (!parsed.ok) return [400, problem(400, "invalid_message", { detail: parsed.problem })];
      // Idempotent like the real control plane: a re-sent incident is acknowledged once more.
      if (!cp.incidents.some((i) => i.incident_id === parsed.value.incident_id)) {
        cp.incidents.push(parsed.value);
      }
      return [200, { v: 1, type: "ack", ref: parsed.value.incident_id }];
    }
    return [404, problem(404, "not_found")];
  };

  // HTTP on sockets from a TLS server (not node:https): Bun's https server hides the peer
  // certificate from the request's socket, its tls server does not, and Node runs both alike.
  const http = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      cp.requests.set(path, (cp.requests.get(path) ?? 0) + 1);
      let body: unknown = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {}
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, {
          "content-type": status < 300 ? "application/json" : "application/problem+json",
        });
        res.end(JSON.stringify(json));
      };
      handle(path, body, req.socket as TLSSocket).then(
        ([status, json]) => reply(status, json),
        (error: unknown) => reply(500, problem(500, "internal", { detail: String(error) })),
      );
    });
  });
  const server = createTlsServer(
    {
      key: options.pki.serverKeyPem,
      cert: options.pki.serverCertPem,
      ca: options.pki.caPem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      http.emit("connection", socket);
    },
  );
  // A control plane that is down drops the TCP connection before any TLS handshake.
  server.on("connection", (socket: Socket) => {
    if (!cp.available) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  Object.assign(cp, { port, url: `https://127.0.0.1:${port}` });
  return cp;
}
